"""`python -m bench.import_original [--rows N]`: import-original throughput.

Builds an original-system database of N taps (500 people) in a throwaway durable
PostgreSQL cluster, imports it into an empty clock-gateway database on the same
cluster, and prints rows per second for the first run and for the second (which
finds everything already there and writes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psycopg

from bench.kit.original_db import SCHEMA
from bench.kit.pgcluster import start_cluster
from gateway.config import ORIGINAL_SLOTS
from gateway.importing.original import import_original
from gateway.store.stores import Stores

PEOPLE = 500


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_original")
    parser.add_argument("--rows", type=int, default=200_000, help="taps in the original")
    args = parser.parse_args()
    cluster = start_cluster(durable=True)
    try:
        source = cluster.create_database("original")
        target = cluster.create_database("gateway")
        fill(source, args.rows)
        stores = Stores.open(target)
        asyncio.run(stores.db.init_schema())
        asyncio.run(stores.close())
        for label in ("first run", "second run"):
            seconds, new = asyncio.run(run_import(target, source))
            print(
                f"{label}: {args.rows} taps in {seconds:.1f} s = {args.rows / seconds:,.0f} rows/s"
                f" ({new} new)"
            )
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
