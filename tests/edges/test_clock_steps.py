"""Issue 13 item 11: a wall-clock step is detected against the monotonic clock, logged,
recorded, flagged in reports; `status` liveness does not trust the wall clock."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

from structlog.testing import capture_logs

from gateway.config import parse_config
from gateway.daemon.clockwatch import ClockStep, ClockWatch, watch_clock
from gateway.domain import ClockEvent, Direction, Outcome
from gateway.reports.rules import Rules
from gateway.reports.service import build_report, presence
from gateway.status import DaemonState, StatusSnapshot, boot_id, daemon_state
from gateway.store.audit import Actor
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores

MADRID = ZoneInfo("Europe/Madrid")


class FakeClocks:
    def __init__(self) -> None:
        self.wall = 1_800_000_000.0
        self.mono = 5_000.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def test_a_step_is_told_from_free_running() -> None:
    clocks = FakeClocks()
    watch = ClockWatch(lambda: clocks.wall, lambda: clocks.mono)
    for _ in range(10):
        clocks.tick(1.0)
        clocks.wall += 0.0005  # NTP slewing: never a step
        assert watch.check() is None
    clocks.tick(1.0)
    clocks.wall -= 3600  # stepped back an hour
    step = watch.check()
    assert step is not None and step.step_s == -3600.0
    assert step.detected_at == datetime.fromtimestamp(clocks.wall, UTC)
    clocks.tick(1.0)
    assert watch.check() is None  # one step is reported once


async def test_the_daemon_loop_logs_and_records_a_step() -> None:
    clocks = FakeClocks()
    watch = ClockWatch(lambda: clocks.wall, lambda: clocks.mono)
    recorded: list[ClockStep] = []

    async def record(step: ClockStep) -> None:
        recorded.append(step)

    with capture_logs() as logs:
        task = asyncio.create_task(watch_clock(record, watch=watch, every_s=0.01))
        clocks.wall += 7200  # stepped forward two hours
        deadline = time.monotonic() + 5
        while not recorded and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        task.cancel()
    assert [s.step_s for s in recorded] == [7200.0]
    steps = [e for e in logs if e["event"] == "clock_step"]
    assert steps and steps[0]["log_level"] == "warning" and steps[0]["direction"] == "forward"


def _event(at: datetime, direction: Direction, gateway: str = "hall-a") -> ClockEvent:
    return ClockEvent(
        event_key=uuid.uuid4(),
        person_uid="ana",
        card_key="04A1B2C3",
        direction=direction,
        reader="entrada",
        reader_hw_id=None,
        received_at=at,
        outcome=Outcome.RECORDED,
        gateway_id=gateway,
    )


async def test_reports_flag_the_days_a_step_touched(tmp_path: Path) -> None:
    stores = Stores.open(f"sqlite:///{tmp_path / 'clock.db'}")
    try:
        await stores.db.init_schema()
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        day = date(2026, 11, 23)

        def local(hh: int, mm: int) -> datetime:
            return datetime(2026, 11, 23, hh, mm, tzinfo=MADRID).astimezone(UTC)

        # In at 08:00; at 08:10 the clock is stepped back an hour; out "at 08:15"
        # (really 09:15): 1:15 of work shows as 0:15.
        await stores.swipes.record_events(
            [_event(local(8, 0), Direction.IN), _event(local(8, 15), Direction.OUT)]
        )
        # The same day at hall-b, whose PC's clock did not step.
        await stores.swipes.record_events(
            [
                _event(local(12, 0), Direction.IN, "hall-b"),
                _event(local(13, 0), Direction.OUT, "hall-b"),
            ]
        )
        # Two days later, a day without a step.
        await stores.swipes.record_events(
            [_event(datetime(2026, 11, 25, 9, tzinfo=UTC), Direction.IN)]
        )
        # Noticed at what the stepped clock called 07:10 (really 08:10).
        await stores.clock_steps.record("hall-a", local(7, 10), -3600.0)
        config = parse_config({"gateway": {"timezone": "Europe/Madrid"}}, "<test>")
        rules = Rules.from_config(config)
        report = await build_report(stores, rules, day, day + timedelta(days=2))
        flagged = {d.day: d.flags for d in report.days}
        assert "clock-step" in flagged[day], flagged
        assert "clock-step" not in flagged.get(date(2026, 11, 25), [])
        # hall-a's clock stepped, not hall-b's: a report of hall-b flags no day.
        report = await build_report(stores, rules, day, day + timedelta(days=2), gateway="hall-b")
        assert day in {d.day for d in report.days}
        assert not any("clock-step" in d.flags for d in report.days)
        report = await build_report(stores, rules, day, day + timedelta(days=2), gateway="hall-a")
        assert "clock-step" in {d.day: d.flags for d in report.days}[day]
    finally:
        await stores.close()


def _snapshot(**changes: object) -> StatusSnapshot:
    base = StatusSnapshot(pid=os.getpid(), started_at=datetime.now(UTC), boot_id=boot_id())
    return replace(base, **changes)  # type: ignore[arg-type]


def test_status_liveness_follows_the_monotonic_clock() -> None:
    now = datetime.now(UTC)
    mono = time.monotonic()
    # Written a second ago; the wall clock has since been stepped forward an hour.
    fresh = _snapshot(updated_at=now - timedelta(hours=1), updated_mono=mono - 1)
    assert daemon_state(fresh, now, mono_now=mono) is DaemonState.RUNNING
    # Written 30 s ago (stuck); the wall clock was stepped back, so by wall time it
    # looks just written.
    stuck = _snapshot(updated_at=now, updated_mono=mono - 30)
    assert daemon_state(stuck, now, mono_now=mono) is DaemonState.NOT_RESPONDING
    # A file from another boot (or an older daemon) falls back to the wall clock.
    other_boot = _snapshot(updated_at=now, updated_mono=mono - 30, boot_id="x")
    assert daemon_state(other_boot, now, mono_now=mono) is DaemonState.RUNNING


async def test_who_follows_store_order_across_a_step_back(tmp_path: Path) -> None:
    """In at 10:00; hall-a's clock goes back an hour at 10:10; out at 10:30, stamped
    09:30. Ordered by stamp the IN is last and Ana shows as in; she tapped out."""
    stores = Stores.open(f"sqlite:///{tmp_path / 'clock.db'}")
    try:
        await stores.db.init_schema()
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        day = date(2026, 11, 23)  # a Monday
        await stores.timetable.replace_timetable(
            [TimetableEntry("ana", 1, dt_time(8, 0), dt_time(14, 0), "Aula 1")]
        )

        def local(hh: int, mm: int) -> datetime:
            return datetime.combine(day, dt_time(hh, mm), MADRID).astimezone(UTC)

        await stores.swipes.record_events([_event(local(10, 0), Direction.IN)])
        await stores.clock_steps.record("hall-a", local(9, 10), -3600.0)
        await stores.swipes.record_events([_event(local(9, 30), Direction.OUT)])
        rules = Rules.from_config(parse_config({"gateway": {"timezone": "Europe/Madrid"}}, "<t>"))
        report = await presence(stores, rules, local(11, 0))
        assert [r.uid for r in report.absent] == ["ana"], report
        # Another gateway's step says nothing of hall-a's order: there, by stamp.
        await stores.clock_steps.record("hall-b", local(9, 50), 0.0)
        assert [r.uid for r in (await presence(stores, rules, local(11, 0))).absent] == ["ana"]
        # Without the step, the stamps are the order: Ana's OUT at 09:30 came first.
        other = Stores.open(f"sqlite:///{tmp_path / 'plain.db'}")
        try:
            await other.db.init_schema()
            await other.lifecycle.add_person("ana", "Ana", Actor.cli())
            await other.timetable.replace_timetable(
                [TimetableEntry("ana", 1, dt_time(8, 0), dt_time(14, 0), "Aula 1")]
            )
            await other.swipes.record_events([_event(local(10, 0), Direction.IN)])
            await other.swipes.record_events([_event(local(9, 30), Direction.OUT)])
            assert [r.uid for r in (await presence(other, rules, local(11, 0))).present] == ["ana"]
        finally:
            await other.close()
    finally:
        await stores.close()
