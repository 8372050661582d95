"""The Inspector's export over a year of 200 workers (issue 21 item 7: under 30 s).

`python -m bench --only export` (or `python -m bench.export`). The data set is
generated deterministically: 200 workers, every working day (Monday to Friday) of a
year, four sessions a day (in and out, twice in the morning and twice in the
afternoon: 8 taps, three pauses), a few forgotten clock-outs, and corrections for
about 1 % of the worker-days (missed punches added, mistaken taps voided), each with
its audit row (left unsealed: the export reads only the chain's head). Stored through
SwipeStore.record_events in large batches, on SQLite (`--postgres`: also on a
throwaway PostgreSQL cluster).

Rows, per backend:
- export: `export_and_record` over the whole year for everyone, as `clock-gateway
  register export` runs it (the report, the corrections, CSV, xlsx, PDF, manifest,
  head, audit row). Target: under 30 s. Floor: reading the same rows (the events with
  the reports' one SELECT, streamed, and the corrections) with no work on top, so the
  ratio is the price of everything the export does beyond the read.
- write floor: writing the export's bytes (the same total size) to a file and
  fsync'ing it: what the files alone cost the disk, for scale.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from bench.kit.year_taps import ZONE, store_events, tap, wall
from gateway.documents.export_files import write_documents
from gateway.domain import ClockEvent, Direction, Outcome
from gateway.reports.export import export_and_record
from gateway.reports.rules import Rules
from gateway.reports.service import local_midnight
from gateway.store.audit import Actor
from gateway.store.stores import Stores

PEOPLE = 200
YEAR = 2025
TARGET_S = 30.0
CORRECTED = 0.01  # of worker-days
# The day's four sessions (local start, minutes long): 8 taps, three pauses.
SESSIONS = ((clock_time(8, 0), 120), (clock_time(10, 30), 90), (clock_time(14, 0), 120),
            (clock_time(16, 30), 90))  # fmt: skip


def generate(
    people: int, first: date, last: date, seed: int = 21
) -> tuple[list[ClockEvent], list[tuple[str, datetime]], int]:
    """The taps; the missed punches to add as corrections (uid, at); how many of the
    taps to void (chosen by id once stored)."""
    rng = random.Random(seed)
    events: list[ClockEvent] = []
    missed: list[tuple[str, datetime]] = []
    voids = 0
    for p in range(people):
        uid, card = f"w{p:04d}", f"05{p:06X}"
        day = first
        while day <= last:
            if day.isoweekday() <= 5:
                for n, (start, length) in enumerate(SESSIONS):
                    t_in = wall(day, start, rng.gauss(0, 4))
                    t_out = t_in + timedelta(minutes=length + rng.gauss(0, 4))
                    forgot = n == 3 and rng.random() < CORRECTED
                    for direction, moment in ((Direction.IN, t_in), (Direction.OUT, t_out)):
                        if direction == Direction.OUT and forgot:
                            missed.append((uid, moment))  # added back by a correction
                            continue
                        events.append(tap(rng, uid, card, direction, moment, Outcome.RECORDED))
                if rng.random() < CORRECTED / 2:
                    voids += 1
            day += timedelta(days=1)
    events.sort(key=lambda e: e.received_at)
    return events, missed, voids


async def _seed(stores: Stores, people: int, first: date, last: date) -> tuple[int, int, float]:
    await stores.db.init_schema()
    actor = Actor("bench", "127.0.0.1")
    for p in range(people):
        await stores.lifecycle.add_person(f"w{p:04d}", f"Trabajadora {p} Núñez", actor)
    events, missed, voids = generate(people, first, last)
    started = time.perf_counter()
    await store_events(stores, events)
    for uid, at in missed:
        await stores.corrections.add_missing(uid, "out", at, "forgot to clock out", actor)
    rng = random.Random(5)
    for event_id in rng.sample(range(1, len(events) + 1), voids):
        await stores.corrections.void(event_id, "tapped by mistake", actor)
    # Not sealed: sealing a year's backlog in one go takes minutes (the daemon seals
    # as rows arrive, off the swipe path), and the export only reads the head.
    return len(events), len(missed) + voids, time.perf_counter() - started


async def _measure(backend: str, url: str, workdir: Path, quick: bool) -> list[dict[str, Any]]:
    first, last = (
        (date(YEAR, 3, 1), date(YEAR, 3, 31)) if quick else (date(YEAR, 1, 1), date(YEAR, 12, 31))
    )
    people = 20 if quick else PEOPLE
    rules = Rules(zone=ZONE)
    stores = Stores.open(url)
    try:
        taps, fixes, seed_s = await _seed(stores, people, first, last)
        start = local_midnight(first, rules) - rules.max_session
        end = local_midnight(last + timedelta(days=1), rules) + rules.max_session

        async def read_rows() -> int:
            n = 0
            async for _ in stores.events.swipes_between(start, end):
                n += 1
            n += len(await stores.corrections.affecting(start, end))
            return n

        t0 = time.perf_counter()
        read = await read_rows()
        floor_s = time.perf_counter() - t0

        out = workdir / f"export-{backend}"
        t0 = time.perf_counter()
        result = await export_and_record(
            stores,
            rules,
            first,
            last,
            out,
            documents=write_documents,
            actor=Actor("bench"),
            state_dir=workdir / "state",
            gateway_id="bench",
        )
        export_s = time.perf_counter() - t0
    finally:
        await stores.close()
    size = sum(p.stat().st_size for p in out.iterdir())
    write_s = await asyncio.to_thread(_write_bytes, workdir / "bytes", size)
    span = f"{(last - first).days + 1} days, {people} workers"
    return [
        {
            "name": f"export {backend}: register export, {span}",
            "value": export_s,
            "unit": "s",
            "floor": floor_s,
            "ratio": export_s / floor_s if floor_s > 0 else None,
            "target": f"< {TARGET_S:.0f} s",
            "met": export_s < TARGET_S,
            "note": f"{taps:,} taps, {fixes:,} corrections, {read:,} rows read -> "
            f"{result.days:,} day rows, {size / 1e6:.1f} MB in {len(result.files)} files; "
            f"floor: read the same rows (one SELECT streamed, and the corrections); "
            f"seeding took {seed_s:.0f} s",
        },
        {
            "name": f"export {backend}: write the export's bytes",
            "value": write_s,
            "unit": "s",
            "floor": None,
            "ratio": export_s / write_s if write_s > 0 else None,
            "note": f"{size / 1e6:.1f} MB written and fsync'd; ratio: the export against it",
        },
    ]


def _write_bytes(path: Path, size: int) -> float:
    block = os.urandom(1 << 16)
    started = time.perf_counter()
    with path.open("wb") as f:
        left = size
        while left > 0:
            left -= f.write(block[: min(left, len(block))])
        f.flush()
        os.fsync(f.fileno())
    return time.perf_counter() - started


async def run(quick: bool = False, postgres: bool = False) -> list[dict[str, Any]]:
    """Rows {name, value, unit, floor, ratio, target, met} for bench/__main__.py.

    SQLite, the default database, by default: seeding a year takes minutes on a busy
    machine, and the benchmark run has ten of them. `python -m bench.export --postgres`
    also runs it on a throwaway PostgreSQL cluster."""
    rows: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="clock-gateway-bench-export-"))
    try:
        rows += await _measure("SQLite", f"sqlite:///{workdir / 'export.db'}", workdir, quick)
        if postgres:
            from bench.kit.pgcluster import start_cluster

            cluster = await asyncio.to_thread(start_cluster)
            try:
                pg_url = await asyncio.to_thread(cluster.create_database, "bench_export")
                rows += await _measure("PostgreSQL", pg_url, workdir, quick)
            finally:
                await asyncio.to_thread(cluster.destroy)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def main() -> None:
    import sys

    from gateway.logs import configure_logging

    configure_logging("warning", json=False)
    args = sys.argv[1:]
    for r in asyncio.run(run(quick="--quick" in args, postgres="--postgres" in args)):
        ratio = "" if r["ratio"] is None else f"  x{r['ratio']:.2f}"
        floor = "" if r["floor"] is None else f"  floor {r['floor']:.3f}"
        print(f"{r['name']}: {r['value']:,.3f} {r['unit']}{floor}{ratio}  {r.get('note', '')}")


if __name__ == "__main__":
    main()
