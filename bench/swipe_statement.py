"""Where the swipe statement's time goes on PostgreSQL: the real statement, one row at
a time, against variants of it and of the schema, and against the latency floor's
bare INSERT, each in a database of its own cloned from one template (same people,
same cards, an events table of the same size).

Each variant's statements are timed from the client (psycopg, autocommit, prepared,
as the daemon sends them) and interleaved round by round with the others, so that a
noisy moment of the shared machine falls on all of them alike. Per variant: the
median and p99 per statement, and the WAL it writes per statement (pg_current_wal_lsn
before and after; nothing else writes to the cluster meanwhile). `--explain` prints
EXPLAIN (ANALYZE, BUFFERS, WAL) of one statement of each.

    python -m bench --only swipe_statement
    python -m bench.swipe_statement [--count N] [--rounds R] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.env import DB_NAME, BenchEnv, create_env
from bench.floors import FLOOR_TABLE
from bench.floors import INSERT as FLOOR_INSERT
from bench.rows import Row, ms, percentile, row
from gateway.store.swipes_pg import RECORD_SWIPES

PEOPLE = 2000  # as the latency benchmark enrols (bench.__main__.CARDS_FULL)
PEOPLE_QUICK = 200
_Conn = psycopg.Connection[tuple[Any, ...]]

_PLAIN_INSERT = """INSERT INTO clock_events
    (event_key, person_uid, card_key, direction, reader, reader_hw_id, received_at,
     outcome, gateway_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"""
_PLAIN_INSERT_CONFLICT = _PLAIN_INSERT + " ON CONFLICT (event_key) DO NOTHING"
# The same lookup and insert as the real statement, from typed arrays instead of JSON.
# (A join, as before 2026-12-08: the planner's guess of 10 rows for unnest still hashed.)
_CTE_ARRAYS = """WITH s AS (
    SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[],
                         %s::timestamptz[], %s::text[], %s::text[])
        WITH ORDINALITY AS b(event_key, card_key, direction, reader, reader_hw_id,
                             received_at, outcome, gateway_id, n)
), h AS (
    SELECT s.*, p.uid, p.name
    FROM s
    JOIN cards c ON c.card_key = s.card_key AND c.revoked_at IS NULL
    JOIN people p ON p.uid = c.person_uid AND p.active
), ins AS (
    INSERT INTO clock_events
        (event_key, person_uid, card_key, direction, reader, reader_hw_id, received_at,
         outcome, gateway_id)
    SELECT event_key, uid, card_key, direction, reader, reader_hw_id, received_at, outcome,
           gateway_id
    FROM h ORDER BY n
    ON CONFLICT (event_key) DO NOTHING
)
SELECT n, uid, name FROM h
"""
_CTE_NO_CONFLICT = RECORD_SWIPES.replace("    ON CONFLICT (event_key) DO NOTHING\n", "")
# The statement before 2026-12-08: cards joined, so that the planner (which guesses 100
# rows for json_array_elements) hashed every active card for each statement.
_CTE_HASHED_CARDS = """WITH s AS (
    SELECT (e->>0)::uuid AS event_key, e->>1 AS card_key, e->>2 AS direction,
           e->>3 AS reader, e->>4 AS reader_hw_id, (e->>5)::timestamptz AS received_at,
           e->>6 AS outcome, e->>7 AS gateway_id, n
    FROM json_array_elements(%s::json) WITH ORDINALITY AS b(e, n)
), h AS (
    SELECT s.*, p.uid, p.name
    FROM s
    JOIN cards c ON c.card_key = s.card_key AND c.revoked_at IS NULL
    JOIN people p ON p.uid = c.person_uid AND p.active
), ins AS (
    INSERT INTO clock_events
        (event_key, person_uid, card_key, direction, reader, reader_hw_id, received_at,
         outcome, gateway_id)
    SELECT event_key, uid, card_key, direction, reader, reader_hw_id, received_at, outcome,
           gateway_id
    FROM h ORDER BY n
    ON CONFLICT (event_key) DO NOTHING
)
SELECT n, uid, name FROM h
"""


def _fields(i: int, people: int) -> list[Any]:
    return [
        uuid.uuid4(),
        f"04{i % people:06X}",  # bench.env.card_uid(i), in hex
        "in" if i % 2 else "out",
        "entrance",
        "0102030405060708",
        datetime.now(UTC),
        "recorded",
        "default",
    ]


def _json_params(i: int, people: int) -> tuple[Any, ...]:
    f = _fields(i, people)
    f[0], f[5] = str(f[0]), f[5].isoformat()
    return (json.dumps([f], separators=(",", ":")),)


def _array_params(i: int, people: int) -> tuple[Any, ...]:
    return tuple([v] for v in _fields(i, people))


def _plain_params(i: int, people: int) -> tuple[Any, ...]:
    key, card, direction, reader, hw, at, outcome, gw = _fields(i, people)
    return (key, f"bench-{i % people:05d}", card, direction, reader, hw, at, outcome, gw)


def _floor_params(i: int, people: int) -> tuple[Any, ...]:
    return _plain_params(i, people)[:-1]


@dataclass(frozen=True)
class Variant:
    name: str
    sql: str
    params: Callable[[int, int], tuple[Any, ...]]
    ddl: tuple[str, ...] = ()  # applied to the variant's own database first
    session: tuple[str, ...] = ()  # SET commands of its connection


_NO_FK = "ALTER TABLE clock_events DROP CONSTRAINT clock_events_person_uid_fkey"
_NO_NOTIFY = "DROP TRIGGER clock_events_notify ON clock_events"
_INDEXES = (
    "clock_events_person_received",
    "clock_events_received",
    "clock_events_gateway_received",
    "clock_events_source_id",
)

VARIANTS = (
    Variant(
        "floor: bare INSERT (LIKE clock_events, no FK, no trigger)", FLOOR_INSERT, _floor_params
    ),
    Variant("real statement (CTE, JSON)", RECORD_SWIPES, _json_params),
    Variant("real, no NOTIFY trigger", RECORD_SWIPES, _json_params, (_NO_NOTIFY,)),
    Variant("real, no FK to people", RECORD_SWIPES, _json_params, (_NO_FK,)),
    Variant("real, no FK, no NOTIFY", RECORD_SWIPES, _json_params, (_NO_FK, _NO_NOTIFY)),
    *(
        Variant(f"real, no index {name}", RECORD_SWIPES, _json_params, (f"DROP INDEX {name}",))
        for name in _INDEXES
    ),
    Variant(
        "real, no append-only triggers",
        RECORD_SWIPES,
        _json_params,
        (
            "DROP TRIGGER clock_events_append_only ON clock_events",
            "DROP TRIGGER clock_events_no_truncate ON clock_events",
        ),
    ),
    Variant("CTE without ON CONFLICT", _CTE_NO_CONFLICT, _json_params),
    Variant("before 2026-12-08: every active card hashed", _CTE_HASHED_CARDS, _json_params),
    Variant("CTE from typed arrays (unnest)", _CTE_ARRAYS, _array_params),
    Variant("plain INSERT of prepared values", _PLAIN_INSERT, _plain_params),
    Variant("plain INSERT ... ON CONFLICT DO NOTHING", _PLAIN_INSERT_CONFLICT, _plain_params),
    Variant(
        "real, generic plan forced",
        RECORD_SWIPES,
        _json_params,
        session=("SET plan_cache_mode = force_generic_plan",),
    ),
)
# Without --flush every variant commits with synchronous_commit off, so that the figures
# are the statement's own work, not the disk's flush (the same for all, and the noisiest
# part on a shared machine); these two say what the flush adds.
FLUSHED = (
    Variant("floor, flushed commit", FLOOR_INSERT, _floor_params),
    Variant("real statement, flushed commit", RECORD_SWIPES, _json_params),
)


def _lsn(conn: _Conn) -> int:
    found = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    return int(found[0]) if found else 0


class _Runner:
    """One variant: its database, its connection, its samples."""

    def __init__(self, env: BenchEnv, k: int, variant: Variant, flush: bool) -> None:
        self.variant = variant
        self.people = len(env.cards)
        name = f"swipe_stmt_{k}"
        with psycopg.connect(env.cluster.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{DB_NAME}"')
        self.conn: _Conn = psycopg.connect(
            env.cluster.url(name), autocommit=True, application_name="bench-swipe-statement"
        )
        self.conn.execute(
            f"CREATE TABLE {FLOOR_TABLE} (LIKE clock_events INCLUDING ALL)"  # the floor's
        )
        for ddl in variant.ddl:
            self.conn.execute(ddl)
        if not flush:
            self.conn.execute("SET synchronous_commit = off")
        for setting in variant.session:
            self.conn.execute(setting)
        self.samples: list[float] = []
        self.wal_bytes = 0
        self.statements = 0
        self.i = 0

    def run(self, count: int, *, warmup: int = 0) -> None:
        sql, params = self.variant.sql, self.variant.params
        before = _lsn(self.conn)
        for n in range(warmup + count):
            self.i += 1
            args = params(self.i, self.people)
            started = time.perf_counter()
            cur = self.conn.execute(sql, args, prepare=True)
            if cur.description is not None:
                cur.fetchall()
            elapsed = time.perf_counter() - started
            if n >= warmup:
                self.samples.append(elapsed)
        self.wal_bytes += _lsn(self.conn) - before
        self.statements += warmup + count

    def plans(self) -> str:
        """How the server planned the prepared statement: a generic plan once, or a
        custom plan at every execution (planning is part of each statement then)."""
        found = self.conn.execute(
            "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
            " FROM pg_prepared_statements WHERE statement NOT LIKE 'EXPLAIN%%'"
        ).fetchone()
        return f"{found[0]} generic / {found[1]} custom plans" if found else "plans unknown"

    def explain(self) -> str:
        self.i += 1
        cur = self.conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF) " + self.variant.sql,
            self.variant.params(self.i, self.people),
        )
        return "\n".join(str(r[0]) for r in cur.fetchall())


def measure(env: BenchEnv, count: int, rounds: int, explain: bool) -> list[Row]:
    runners = [_Runner(env, k, v, False) for k, v in enumerate(VARIANTS)]
    runners += [_Runner(env, len(runners) + k, v, True) for k, v in enumerate(FLUSHED)]
    try:
        for r in runners:
            r.run(0, warmup=20)  # prepared (psycopg prepares on the 5th), caches warm
        for rnd in range(rounds):
            order = runners if rnd % 2 == 0 else runners[::-1]
            for r in order:
                r.run(count)
        plans = {id(r): r.plans() for r in runners}  # before EXPLAIN's own
        if explain:
            for r in runners:
                print(f"\n== {r.variant.name}\n{r.explain()}", file=sys.stderr)
        floor = statistics.median(runners[0].samples)
        rows = []
        for r in runners:
            p50 = statistics.median(r.samples)
            rows.append(
                row(
                    f"swipe statement: {r.variant.name} p50",
                    ms(p50),
                    "ms",
                    floor=ms(floor),
                    note=(
                        f"p99 {ms(percentile(r.samples, 99))} ms, "
                        f"{r.wal_bytes / max(1, r.statements):.0f} WAL bytes per statement, "
                        f"{len(r.samples)} statements, {plans[id(r)]}"
                    ),
                )
            )
        return rows
    finally:
        for r in runners:
            r.conn.close()


async def run(
    quick: bool = False, *, explain: bool = False, count: int = 0, rounds: int = 0
) -> list[Row]:
    env = await create_env(PEOPLE_QUICK if quick else PEOPLE)
    try:
        return await asyncio.to_thread(
            measure, env, count or (20 if quick else 200), rounds or (2 if quick else 6), explain
        )
    finally:
        await asyncio.to_thread(env.destroy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="statements per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(run(explain=args.explain, count=args.count, rounds=args.rounds))
    for r in rows:
        print(f"{r['value']:8.3f} ms  {r['ratio']:5.2f}x  {r['name']}  ({r.get('note', '')})")


if __name__ == "__main__":
    main()
