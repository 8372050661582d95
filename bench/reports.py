"""Reports over a year of a 200-person lab, against the time to just stream the events.

`python -m bench --only reports` (or `python -m bench.reports`). The data set is
generated deterministically and stored through SwipeStore.record_events in large
batches, on SQLite and on a throwaway PostgreSQL cluster. Rows:

- report: `build_report` over the whole year for everyone, reading through
  EventStore.swipes_between as `clock-gateway report` does (what it computes before printing).
  Floor: streaming the same events out of the database with the same query and no
  aggregation, so the ratio is the price of the rules on top of the read.
- stream via EventStore.events_between: the same events as whole StoredEvent rows in
  keyset chunks (the generic API), against the same floor: why reports use the lean
  swipes_between instead.
- who: `presence` at a weekday 10:00. Floor: reading that instant's look-back window.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from bench.kit.year_taps import BATCH, ZONE, store_events, tap, wall
from gateway.domain import ClockEvent, Direction, Outcome
from gateway.reports.presence import lookback_start
from gateway.reports.rules import Rules
from gateway.reports.service import build_report, presence
from gateway.store.audit import Actor
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores

PEOPLE = 200
YEAR = 2025  # a whole year, both DST changes inside
REPEATS = 3  # best of: the machine is shared


def generate(
    people: int, first: date, last: date, seed: int = 9
) -> tuple[list[TimetableEntry], list[ClockEvent]]:
    """Timetables and swipes: mornings, evenings and a few night shifts; lunch breaks,
    forgotten clock-outs and duplicate taps sprinkled in at realistic rates."""
    rng = random.Random(seed)
    entries: list[TimetableEntry] = []
    events: list[ClockEvent] = []
    shifts = [
        (clock_time(8, 15), clock_time(14, 45)),
        (clock_time(16, 0), clock_time(22, 15)),
        (clock_time(22, 0), clock_time(6, 0)),
    ]
    for p in range(people):
        uid = f"p{p:04d}"
        card = f"04{p:06X}"
        start, end = shifts[0 if p % 10 < 7 else 1 if p % 20 != 19 else 2]
        for weekday in range(1, 6):
            entries.append(TimetableEntry(uid, weekday, start, end, f"Lab {p % 12}"))
        day = first
        while day <= last:
            if day.isoweekday() <= 5 and rng.random() < 0.95:
                t_in = wall(day, start, rng.gauss(-5, 8))
                end_day = day + timedelta(days=1) if end < start else day
                t_out = wall(end_day, end, rng.gauss(5, 10))
                taps: list[tuple[Direction, datetime, Outcome]] = [
                    (Direction.IN, t_in, Outcome.RECORDED)
                ]
                if rng.random() < 0.3:  # a break in the middle
                    mid = t_in + (t_out - t_in) / 2
                    taps.append((Direction.OUT, mid, Outcome.RECORDED))
                    taps.append((Direction.IN, mid + timedelta(minutes=30), Outcome.RECORDED))
                if rng.random() < 0.03:
                    taps.append((Direction.IN, t_in + timedelta(seconds=2), Outcome.DUPLICATE))
                if rng.random() > 0.02:  # 2% forget to clock out
                    taps.append((Direction.OUT, t_out, Outcome.RECORDED))
                for direction, moment, outcome in sorted(taps, key=lambda t: t[1]):
                    events.append(tap(rng, uid, card, direction, moment, outcome))
            day += timedelta(days=1)
    events.sort(key=lambda e: e.received_at)
    return entries, events


async def _best(fn: Callable[[], Awaitable[Any]], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        await fn()
        best = min(best, time.perf_counter() - started)
    return best


async def _seed(
    stores: Stores, people: int, entries: list[TimetableEntry], events: list[ClockEvent]
) -> float:
    await stores.db.init_schema()
    for p in range(people):
        await stores.lifecycle.add_person(f"p{p:04d}", f"Person {p}", Actor.cli())
    await stores.timetable.replace_timetable(entries)
    started = time.perf_counter()
    await store_events(stores, events)
    return time.perf_counter() - started


async def _measure(
    backend: str, url: str, people: int, first: date, last: date, quick: bool
) -> list[dict[str, Any]]:
    entries, events = generate(people, first, last)
    rules = Rules(zone=ZONE)
    stores = Stores.open(url)
    try:
        insert_s = await _seed(stores, people, entries, events)
        now = datetime(last.year + 1, 1, 15, tzinfo=UTC)
        span = f"{(last - first).days + 1} days, {people} people"
        start = datetime.combine(first, clock_time(0), tzinfo=ZONE) - rules.max_session
        end = datetime.combine(last + timedelta(days=1), clock_time(0), tzinfo=ZONE)
        end += rules.max_session

        async def stream() -> None:
            async for _ in stores.events.swipes_between(start, end):
                pass

        async def stream_generic() -> None:
            async for _ in stores.events.events_between(start, end):
                pass

        days: list[Any] = []

        async def report() -> None:
            built = await build_report(
                stores, rules, first, last, now=now, source=stores.events.swipes_between
            )
            days[:] = built.days

        repeats = 1 if quick else REPEATS
        floor_s = await _best(stream, repeats)
        report_s = await _best(report, repeats)
        generic_s = await _best(stream_generic, 1)

        at = datetime.combine(
            first + timedelta(days=(7 - first.isoweekday()) % 7 + 1), clock_time(10), tzinfo=ZONE
        ).astimezone(UTC)
        since = lookback_start(at, rules, entries)

        async def window() -> None:
            async for _ in stores.events.events_between(since, at):
                pass

        async def who() -> None:
            await presence(stores, rules, at, now=now)

        who_floor = await _best(window, 5)
        who_s = await _best(who, 5)
    finally:
        await stores.close()
    return [
        {
            "name": f"reports {backend}: insert {len(events):,} events",
            "value": len(events) / insert_s,
            "unit": "events/s",
            "floor": None,
            "ratio": None,
            "note": f"record_events in batches of {BATCH}",
        },
        {
            "name": f"reports {backend}: report, {span}",
            "value": report_s,
            "unit": "s",
            "floor": floor_s,
            "ratio": report_s / floor_s if floor_s > 0 else None,
            "note": f"{len(events):,} events -> {len(days):,} day rows; floor: stream them",
        },
        {
            "name": f"reports {backend}: stream via EventStore.events_between",
            "value": generic_s,
            "unit": "s",
            "floor": floor_s,
            "ratio": generic_s / floor_s if floor_s > 0 else None,
        },
        {
            "name": f"reports {backend}: who at 10:00",
            "value": who_s * 1000,
            "unit": "ms",
            "floor": who_floor * 1000,
            "ratio": who_s / who_floor if who_floor > 0 else None,
        },
    ]


async def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows {name, value, unit, floor, ratio} for bench/__main__.py."""
    first, last = (
        (date(YEAR, 3, 1), date(YEAR, 3, 31))
        if quick
        else (
            date(YEAR, 1, 1),
            date(YEAR, 12, 31),
        )
    )
    rows: list[dict[str, Any]] = []
    workdir = Path(tempfile.mkdtemp(prefix="clock-gateway-bench-reports-"))
    try:
        url = f"sqlite:///{workdir / 'reports.db'}"
        rows += await _measure("SQLite", url, PEOPLE, first, last, quick)
        try:
            from bench.kit.pgcluster import start_cluster
        except ImportError:
            return rows  # an installed package without the test support: SQLite only
        cluster = await asyncio.to_thread(start_cluster)
        try:
            pg_url = await asyncio.to_thread(cluster.create_database, "bench_reports")
            rows += await _measure("PostgreSQL", pg_url, PEOPLE, first, last, quick)
        finally:
            await asyncio.to_thread(cluster.destroy)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def main() -> None:
    import sys

    from gateway.logs import configure_logging

    configure_logging("warning", json=False)
    quick = "--quick" in sys.argv[1:]
    for r in asyncio.run(run(quick=quick)):
        floor = "" if r["floor"] is None else f"  floor {r['floor']:.3f}  x{r['ratio']:.2f}"
        print(f"{r['name']}: {r['value']:,.3f} {r['unit']}{floor}")


if __name__ == "__main__":
    main()
