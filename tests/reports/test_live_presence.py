"""The board's live presence equals the full recompute, whatever happened before.

LivePresence (gateway/reports/live_presence.py) reads the day once and then only the
events stored since; `presence` (service.py) reads the whole window every time. After
any sequence of taps (duplicates and taps stored late among them), corrections (added
punches, voided taps), renames, timetable changes and moves of the clock across days,
both must say the same, on both backends. The live side is told nothing: it must
notice the non-tap changes itself (its signature, looked at on every report here).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.reports.live_presence import LivePresence
from gateway.reports.presence import WhoReport
from gateway.reports.rules import Rules
from gateway.reports.service import presence
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from tests.reports.helpers import MADRID, PEOPLE, clock, row, seeded

UIDS = sorted(PEOPLE)
# A Monday, 05:00 in Madrid: long past, so corrections may add punches at any step.
START = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
RULES = [
    Rules(zone=MADRID, excluded_rooms=frozenset({"Guardia"})),
    Rules(zone=MADRID, presence_rule="shift"),
]
_names = itertools.count(1)

person = st.sampled_from(UIDS)
direction = st.sampled_from(["in", "out"])
minutes = st.integers(min_value=-180, max_value=30)  # around the clock: late and early
operation = st.one_of(
    st.tuples(st.just("tap"), person, direction, minutes, st.booleans()),
    st.tuples(st.just("add"), person, direction, st.integers(min_value=-600, max_value=0)),
    st.tuples(st.just("void"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("rename"), person),
    st.tuples(
        st.just("timetable"),
        st.lists(
            st.tuples(
                person,
                st.integers(min_value=1, max_value=7),
                st.integers(min_value=0, max_value=23),
                st.integers(min_value=1, max_value=20),  # hours long: some cross midnight
                st.sampled_from(["Lab 1", "Guardia"]),
            ),
            max_size=6,
        ),
    ),
    st.tuples(st.just("clock"), st.integers(min_value=1, max_value=24 * 60)),
    st.tuples(st.just("tick"), st.integers(min_value=1, max_value=90)),  # seconds
)


def _view(report: WhoReport) -> Any:
    fields = ("uid", "name", "room", "start", "end", "present", "last_event")
    fields += ("last_event_at", "last_event_imported", "corrected")
    rows = [tuple(getattr(r, f) for f in fields) for r in report.scheduled + report.unscheduled_in]
    return report.at, len(report.scheduled), rows


async def _apply(stores: Stores, step: tuple[Any, ...], now: datetime, ids: list[int]) -> datetime:
    kind = step[0]
    if kind == "tap":
        _, uid, way, offset, duplicate = step
        event = clock(uid, way, now + timedelta(minutes=offset), duplicate=duplicate)
        await stores.swipes.record_events([event])
        ids.append(max(e.id for e in await stores.events.events_since(0, 10_000)))
    elif kind == "add":
        _, uid, way, offset = step
        await stores.corrections.add_missing(
            uid, way, now + timedelta(minutes=offset), "missed", Actor.cli()
        )
    elif kind == "void" and ids:
        event_id = ids[step[1] % len(ids)]
        voided = {c.event_id for c in await stores.corrections.recent(limit=1000)}
        if event_id not in voided:
            await stores.corrections.void(event_id, "mistake", Actor.cli())
    elif kind == "rename":
        await stores.lifecycle.rename(step[1], f"Renamed {next(_names)}", Actor.cli())
    elif kind == "timetable":  # as `timetable import` does: the rows, then the audit row
        await stores.timetable.replace_timetable(
            [
                row(uid, day, f"{hour:02d}:00", f"{(hour + hours) % 24:02d}:30", room)
                for uid, day, hour, hours, room in step[1]
            ]
        )
        await stores.audit.record(Actor.cli(), "timetable.import", None, {"rows": len(step[1])})
    elif kind == "clock":
        return now + timedelta(minutes=step[1])
    elif kind == "tick":
        return now + timedelta(seconds=step[1])
    return now


async def _check(url: str, steps: list[tuple[Any, ...]], rules: Rules) -> None:
    stores = await seeded(url)
    try:
        # No rebuild of the rows by the clock alone: only the plan's boundaries.
        live = LivePresence(stores, rules, check_s=0.0, plan_max_s=1e9)
        now = START
        ids: list[int] = []
        for step in steps:
            now = await _apply(stores, step, now, ids)
            fixed = datetime(2026, 12, 1, tzinfo=UTC)
            want = await presence(stores, rules, now, now=fixed)
            got = await live.report(now, now=fixed)
            assert _view(got) == _view(want), f"after {step}: {_view(got)} != {_view(want)}"
    finally:
        await stores.close()


def _urls(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    count = itertools.count(1)
    if backend == "sqlite":
        return lambda: f"sqlite:///{tmp_path / f'live-{next(count)}.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    return lambda: cluster.create_database(f"live_{id(tmp_path)}_{next(count)}")


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_live_presence_equals_the_full_recompute(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    new_url = _urls(backend, request, tmp_path)

    @settings(
        max_examples=30 if backend == "sqlite" else 20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(operation, min_size=1, max_size=25), st.sampled_from(RULES))
    def prop(steps: list[tuple[Any, ...]], rules: Rules) -> None:
        asyncio.run(asyncio.wait_for(_check(new_url(), steps, rules), timeout=60))

    prop()


def test_taps_are_read_as_changes_not_by_reloading_the_day(db_url: str) -> None:
    """The point of it: after the first load a tap costs neither a load of the day nor
    a rebuild of every row; a rename, a new day and a row's end do."""

    async def main() -> None:
        stores = await seeded(db_url)
        try:
            live = LivePresence(stores, RULES[0], check_s=0.0)
            await stores.timetable.replace_timetable(
                [row("ana", 1, "08:00", "14:00"), row("luis", 1, "08:00", "09:30")]
            )
            now = START + timedelta(hours=4)  # Monday 09:00 in Madrid
            await live.report(now)
            for second in range(6):
                at = now + timedelta(seconds=second)
                way = "in" if second % 2 == 0 else "out"
                await stores.swipes.record_events([clock("ana", way, at)])
                report = await live.report(at + timedelta(milliseconds=500))
                present = {r.uid: r.present for r in report.scheduled}
                assert present == {"ana": way == "in", "luis": False}
            assert (live.loads, live.plans) == (1, 1)
            report = await live.report(now + timedelta(minutes=31))  # luis's row ended
            assert [r.uid for r in report.scheduled] == ["ana"]
            assert (live.loads, live.plans) == (1, 2)
            await stores.lifecycle.rename("ana", "Ana Renamed", Actor.cli())
            report = await live.report(now + timedelta(minutes=32))
            assert live.loads == 2
            assert [r.name for r in report.scheduled] == ["Ana Renamed"]
            await live.report(now + timedelta(days=1))  # a new day: the window moves
            assert live.loads == 3
        finally:
            await stores.close()

    asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_across_a_clock_step_back_it_says_what_presence_says(db_url: str) -> None:
    """In at 10:00; the gateway's clock goes back an hour; out stamped 09:30. `who`
    orders that gateway's events by id there (Ana is out): so must the live board,
    whether the step was there at its first load or came after."""

    async def main() -> None:
        stores = await seeded(db_url)
        try:
            rules = RULES[0]
            live = LivePresence(stores, rules, check_s=0.0)
            await stores.timetable.replace_timetable([row("ana", 1, "08:00", "14:00")])
            now = START + timedelta(hours=6)  # Monday 11:00 in Madrid
            inside = clock("ana", "in", now - timedelta(hours=1))
            await stores.swipes.record_events([inside])
            assert [r.uid for r in (await live.report(now)).present] == ["ana"]
            await stores.clock_steps.record(
                inside.gateway_id, now - timedelta(minutes=110), -3600.0
            )
            await stores.swipes.record_events([clock("ana", "out", now - timedelta(minutes=90))])
            want = await presence(stores, rules, now)
            assert [r.uid for r in want.absent] == ["ana"]
            assert _view(await live.report(now)) == _view(want)
            fresh = LivePresence(stores, rules)  # the step there from the first load
            assert _view(await fresh.report(now)) == _view(want)
        finally:
            await stores.close()

    asyncio.run(asyncio.wait_for(main(), timeout=60))
