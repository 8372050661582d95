"""`python -m bench.import_original [--rows N] [--runs R]`: import-original throughput.

Builds an original-system database of N taps (500 people) in a throwaway durable
PostgreSQL cluster and, R times, imports it into an empty clock-gateway database on
the same cluster, then again (which finds everything already there and writes
nothing), and once into SQLite. Rows per second, next to a floor measured in the
same run just before and after each import: the same taps, mapped as the import
maps them and rendered as COPY text beforehand, through one bare COPY into a plain
table (the same columns, no index, no constraint) and its commit: what the database
takes at best. The ratio (import / floor, both in rows per second) is the figure.
`python -m bench.import_floors` breaks clock_events' own cost down, part by part.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

import psycopg
import structlog

from bench.kit.original_db import SCHEMA
from bench.kit.pgcluster import PgCluster, start_cluster
from gateway.config import ORIGINAL_SLOTS
from gateway.importing.original import import_original
from gateway.importing.plan import EventMapper
from gateway.store.imported_events import EVENT_COLUMNS, copy_text
from gateway.store.stores import Stores

PEOPLE = 500
log = structlog.get_logger()


def fill(url: str, rows: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA)
        conn.execute(
            "INSERT INTO \"user\" SELECT 'p' || n, 'Persona ' || n, "
            "lpad(to_hex(n + 67108864), 8, '0') FROM generate_series(1, %s) n",
            (PEOPLE,),
        )
        conn.execute(
            'INSERT INTO user_schedule (day, hour, room, "userUid") '
            "SELECT d::text, h::text, 'Aula ' || (n %% 30), 'p' || n "
            "FROM generate_series(1, %s) n, generate_series(0, 4) d, generate_series(0, 2) h",
            (PEOPLE,),
        )
        # Taps a minute apart per person, alternating in and out, from 2024 on.
        conn.execute(
            'INSERT INTO auth_entity (reader, "timestamp", "userUid") '
            "SELECT CASE WHEN (i / %s) %% 2 = 0 THEN 'input' ELSE 'output' END, "
            "1704096000 + (i / %s) * 60, 'p' || (1 + i %% %s) FROM generate_series(0, %s - 1) i",
            (PEOPLE, PEOPLE, PEOPLE, rows),
        )


async def run_import(url: str, source: str) -> tuple[float, int]:
    stores = await Stores.open_checked(url)
    try:
        started = time.perf_counter()
        result = await import_original(stores, source, slots=ORIGINAL_SLOTS, duplicate_window_s=5.0)
        return time.perf_counter() - started, result.events.new
    finally:
        await stores.close()


def floor_text(source: str) -> str:
    """The taps as the import maps them (the people's uids are valid as they are),
    as one COPY text."""
    with psycopg.connect(source) as conn:
        rows = conn.execute(
            'SELECT id_key, reader, "timestamp", "userUid" FROM auth_entity '
            'ORDER BY "timestamp", id_key'
        ).fetchall()
    uids = {f"p{n}": f"p{n}" for n in range(1, PEOPLE + 1)}
    return copy_text(EventMapper(uids, 5.0).map(rows))


def bare_copy(url: str, data: str) -> tuple[float, float]:
    """Seconds for one COPY of `data` into a fresh plain table and its commit; and
    for the same COPY followed by moving the rows into an empty clock_events (its
    indexes, foreign key and checks, as the import does) and the commit."""
    typed = ", ".join(
        f"{c} {'uuid' if c == 'event_key' else 'timestamptz' if c == 'received_at' else 'text'}"
        for c in EVENT_COLUMNS
    )
    names = ", ".join(EVENT_COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE floor_events ({typed})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY floor_events ({names}) FROM STDIN") as copy:
            copy.write(data)
        conn.commit()
        copied = time.perf_counter() - started
        conn.execute(
            f"INSERT INTO clock_events ({names}) SELECT {names} FROM floor_events "
            "ON CONFLICT DO NOTHING"
        )
        conn.commit()
        moved = time.perf_counter() - started
    return copied, moved


def floor_target(cluster: PgCluster, name: str) -> str:
    """A fresh clock-gateway database with the people, for one bare_copy."""
    url = cluster.create_database(name)
    fresh_target(url)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO people (uid, name) SELECT 'p' || n, 'Persona ' || n "
            "FROM generate_series(1, %s) n",
            (PEOPLE,),
        )
    return url


def fresh_target(url: str) -> None:
    stores = Stores.open(url)
    asyncio.run(stores.db.init_schema())
    asyncio.run(stores.close())


QUICK_ROWS = 2_000  # the smoke test's size: a few seconds
FULL_ROWS = 1_000_000  # issue 23 item 4: the original's 1 M taps
TARGET_RATIO = 0.5  # of the bare COPY's rows per second


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(rows: int, runs: int) -> list[dict[str, Any]]:
    """The import's rows per second against its bare-COPY floor, per run, as rows."""
    out: list[dict[str, Any]] = []
    log.info("bench.import_original.start", rows=rows, runs=runs, load=_load())
    cluster = start_cluster(durable=True)
    try:
        source = cluster.create_database("original")
        fill(source, rows)
        data = floor_text(source)
        for run in range(1, runs + 1):
            target = cluster.create_database(f"gateway_{run}")
            fresh_target(target)
            before = bare_copy(floor_target(cluster, f"floor_{run}_before"), data)
            first, new = asyncio.run(run_import(target, source))
            after = bare_copy(floor_target(cluster, f"floor_{run}_after"), data)
            second, _ = asyncio.run(run_import(target, source))
            floor = rows / statistics.mean([before[0], after[0]])
            schema_floor = rows / statistics.mean([before[1], after[1]])
            rate = rows / first
            with tempfile.TemporaryDirectory(prefix="clock-gateway-bench-import-") as folder:
                lite = f"sqlite:///{folder}/gateway.db"
                fresh_target(lite)
                lite_first, lite_new = asyncio.run(run_import(lite, source))
                lite_second, _ = asyncio.run(run_import(lite, source))
            # SQLite has no COPY: its floor is the same bare COPY's rate, so the two
            # backends' ratios read against one yardstick measured in this run.
            lite_rate = rows / lite_first
            for name, value, fl in (
                (f"import {rows:,} taps, PostgreSQL (run {run}, {new} new)", rate, floor),
                (
                    f"import {rows:,} taps, PostgreSQL vs COPY + move (run {run})",
                    rate,
                    schema_floor,
                ),
                (f"import {rows:,} taps, SQLite (run {run}, {lite_new} new)", lite_rate, floor),
            ):
                out.append(
                    {
                        "name": name,
                        "value": value,
                        "unit": "rows/s",
                        "floor": fl,
                        "ratio": value / fl,
                        "target": f">= {TARGET_RATIO}x floor",
                        "met": value / fl >= TARGET_RATIO,
                    }
                )
            for name, seconds in (("PostgreSQL", second), ("SQLite", lite_second)):
                out.append(
                    {
                        "name": f"re-import {rows:,} taps, {name} (run {run}, nothing new)",
                        "value": rows / seconds,
                        "unit": "rows/s",
                        "floor": floor,
                        "ratio": rows / seconds / floor,
                    }
                )
        log.info("bench.import_original.end", load=_load())
    finally:
        cluster.destroy()
    return out


def run(quick: bool = False) -> list[dict[str, Any]]:
    return measure(QUICK_ROWS if quick else FULL_ROWS, 1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_original")
    parser.add_argument("--rows", type=int, default=200_000, help="taps in the original")
    parser.add_argument(
        "--runs", type=int, default=2, help="first imports, each into a fresh database"
    )
    args = parser.parse_args()
    print(f"load average at the start: {_load()}")
    for r in measure(args.rows, args.runs):
        ratio = f", ratio {r['ratio']:.3f}x floor {r['floor']:,.0f}" if r.get("floor") else ""
        print(f"{r['name']}: {r['value']:,.0f} {r['unit']}{ratio}")
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
