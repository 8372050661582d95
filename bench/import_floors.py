"""`python -m bench.import_floors [--rows N]`: what clock_events costs a bulk COPY.

The import's target is half a bare COPY's rows per second; this says where that
stops being possible. The same taps as bench.import_original's floor (mapped as the
import maps them, as COPY text), COPYed in the import's batches (10,000 rows, one
transaction each, durable commits) into a table built up from a plain one to
clock_events' exact definition one part at a time, each on a fresh database with
the 500 people: defaults and identity, the CHECKs, the foreign key, each index alone,
all indexes, all of it, and clock_events itself (its triggers too; the append-only
ones fire on UPDATE and DELETE only, the NOTIFY one once per statement). One bare
COPY of everything in one statement, the import's own floor, comes first and last.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import psycopg

from bench.import_original import fill, floor_target, floor_text
from bench.kit.pgcluster import start_cluster
from gateway.store.imported_events import EVENT_COLUMNS

BATCH = 10_000
_NAMES = ", ".join(EVENT_COLUMNS)
_PLAIN = ", ".join(
    f"{c} {'uuid' if c == 'event_key' else 'timestamptz' if c == 'received_at' else 'text'}"
    for c in EVENT_COLUMNS
)
INDEXES = {
    "primary key (id)": "ALTER TABLE t ADD PRIMARY KEY (id)",
    "unique (event_key)": "ALTER TABLE t ADD UNIQUE (event_key)",
    "(person_uid, received_at)": "CREATE INDEX ON t (person_uid, received_at)",
    "(received_at)": "CREATE INDEX ON t (received_at)",
    "(gateway_id, received_at)": "CREATE INDEX ON t (gateway_id, received_at)",
    "unique (source, source_id)": (
        "CREATE UNIQUE INDEX ON t (source, source_id) WHERE source_id IS NOT NULL"
    ),
}
CHECKS = (
    "ALTER TABLE t ADD CHECK (card_key ~ '^([0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$'), "
    "ADD CHECK (direction IN ('in', 'out')), ADD CHECK (outcome IN ('recorded', 'duplicate')), "
    "ADD CHECK (source IN ('reader', 'import'))"
)
LIKE = (
    "CREATE TABLE t (LIKE clock_events INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED)"
)
FK = "ALTER TABLE t ADD FOREIGN KEY (person_uid) REFERENCES people (uid)"


def _case(*statements: str) -> Callable[[psycopg.Connection[object]], str]:
    def build(conn: psycopg.Connection[object]) -> str:
        for statement in statements:
            conn.execute(statement)  # fixed text, never built from input
        return "t"

    return build


CASES: dict[str, Callable[[psycopg.Connection[object]], str]] = {
    "plain table (the floor's columns, nothing else)": _case(f"CREATE TABLE t ({_PLAIN})"),
    "+ defaults and identity (id, stored_at now(), gateway_id)": _case(LIKE),
    "+ the 4 CHECKs": _case(LIKE, CHECKS),
    "+ the foreign key to people": _case(LIKE, FK),
    **{f"+ index {name}": _case(LIKE, sql) for name, sql in INDEXES.items()},
    "+ all 6 indexes": _case(LIKE, *INDEXES.values()),
    "+ all of it (exact definition, no triggers)": _case(LIKE, CHECKS, FK, *INDEXES.values()),
    "clock_events itself (and its triggers)": lambda conn: "clock_events",
}


def copy_batches(conn: psycopg.Connection[object], table: str, data: str, batch: int) -> float:
    lines = data.splitlines(keepends=True)
    parts = ["".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]
    started = time.perf_counter()
    for part in parts:
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({_NAMES}) FROM STDIN") as copy:
            copy.write(part)
        conn.commit()
    return time.perf_counter() - started


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(rows: int) -> list[tuple[str, float]]:
    """(case, rows per second), the bare one-statement COPY first and last."""
    out: list[tuple[str, float]] = []
    cluster = start_cluster(durable=True)
    try:
        source = cluster.create_database("original")
        fill(source, rows)
        data = floor_text(source)
        bare = _case(f"CREATE TABLE t ({_PLAIN})")
        cases = [
            ("bare COPY, one statement (the import's floor)", bare, rows),
            *((name, build, BATCH) for name, build in CASES.items()),
            ("bare COPY, one statement, again", bare, rows),
        ]
        for n, (name, build, batch) in enumerate(cases):
            with psycopg.connect(floor_target(cluster, f"case_{n}")) as conn:
                table = build(conn)
                conn.commit()
                seconds = copy_batches(conn, table, data, batch)
            out.append((name, rows / seconds))
            print(f"{name}: {rows / seconds:,.0f} rows/s (load {_load()})", flush=True)
    finally:
        cluster.destroy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_floors")
    parser.add_argument("--rows", type=int, default=200_000, help="taps")
    args = parser.parse_args()
    print(f"load average at the start: {_load()}")
    results = measure(args.rows)
    bare = (results[0][1] + results[-1][1]) / 2
    print(f"\n| {args.rows:,} rows, {BATCH:,} per COPY and commit | rows/s | of a bare COPY |")
    print("|---|--:|--:|")
    for name, rate in results:
        print(f"| {name} | {rate:,.0f} | {rate / bare:.3f}x |")
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
