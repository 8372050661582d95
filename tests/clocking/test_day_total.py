"""The exit reader tells the worker their day (issue 22 item 8): a clock-out's second
line is the day's net time so far, from the service's in-memory tally, over the real
Recorder and an in-memory storage (no database: the tally needs none)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.clocking import ClockingService, Messages
from gateway.clocking.tally import DayTally
from gateway.config import parse_config
from gateway.domain import Direction, IncomingSwipe, Person
from gateway.protocol import Status
from gateway.recording.recorder import Recorder
from gateway.reports.rules import DEFAULT_MAX_SESSION, MAX_PAUSE
from tests.support.storage import MemoryStorage

MADRID = ZoneInfo("Europe/Madrid")
HW = bytes.fromhex("0102030405060708")
ANA = bytes.fromhex("04A1B2C3")
IN, OUT = Direction.IN, Direction.OUT


def at(day: int, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 3, day, h, m, tzinfo=MADRID).astimezone(UTC)


def tally() -> DayTally:
    return DayTally(MADRID, max_session=DEFAULT_MAX_SESSION, max_pause=MAX_PAUSE)


class Taps:
    def __init__(self, service: ClockingService) -> None:
        self.service = service
        self.seq = 0
        self.clock = 1000.0
        service._now = lambda: self.clock

    async def __call__(self, direction: Direction, when: datetime) -> tuple[Status, str]:
        self.seq += 1
        self.clock += 60  # outside the duplicate window
        reader = "entrance" if direction is IN else "exit"
        reply = await self.service.handle(
            IncomingSwipe(reader, direction, HW, 7, self.seq, ANA, when)
        )
        return reply.status, reply.text


@contextlib.asynccontextmanager
async def service(
    tmp_path: Path, locale: str, *, show: bool = True, day_tally: DayTally | None = None
) -> AsyncIterator[Taps]:
    config = parse_config(
        {"gateway": {"state_dir": str(tmp_path / "state")}, "database": {"url": "sqlite:///x"}},
        "test",
    )
    storage = MemoryStorage({"04A1B2C3": Person("ana", "Ana Núñez")})
    recorder = Recorder(storage, config.state_dir, config)
    await recorder.start()
    svc = ClockingService(
        recorder, Messages(locale), 5.0, tally=day_tally or tally(), show_day_total=show
    )
    try:
        yield Taps(svc)
    finally:
        async with asyncio.timeout(10):
            await recorder.stop()


async def test_a_clock_out_shows_the_days_net_time_so_far(tmp_path: Path) -> None:
    async with service(tmp_path, "es") as tap:
        assert await tap(IN, at(2, "08:00")) == (Status.OK, "Entrada -\nAna Nunez")
        # "Salida - Ana Nunez" is 18 characters: the name alone on line 1.
        assert await tap(OUT, at(2, "11:45")) == (Status.OK, "Ana Nunez\nHoy 3:45")
        await tap(IN, at(2, "12:15"))
        assert await tap(OUT, at(2, "16:02")) == (Status.OK, "Ana Nunez\nHoy 7:32")


async def test_english_and_a_first_line_that_fits(tmp_path: Path) -> None:
    async with service(tmp_path, "en") as tap:
        await tap(IN, at(2, "08:00"))
        assert await tap(OUT, at(2, "15:32")) == (Status.OK, "Out - Ana Nunez\nToday 7:32")


async def test_configured_off_it_is_the_plain_clock_out(tmp_path: Path) -> None:
    async with service(tmp_path, "es", show=False) as tap:
        await tap(IN, at(2, "08:00"))
        assert await tap(OUT, at(2, "15:32")) == (Status.OK, "Salida -\nAna Nunez")


async def test_an_out_whose_in_it_never_saw_shows_no_figure(tmp_path: Path) -> None:
    async with service(tmp_path, "es") as tap:
        assert await tap(OUT, at(2, "15:32")) == (Status.OK, "Salida -\nAna Nunez")


async def test_a_warmed_tally_counts_the_taps_before_a_restart(tmp_path: Path) -> None:
    warm = tally()
    earlier = [
        ("ana", "in", "recorded", at(2, "08:00")),
        ("ana", "out", "recorded", at(2, "10:00")),
    ]
    earlier += [
        ("ana", "in", "duplicate", at(2, "10:00")),
        ("ana", "in", "recorded", at(2, "10:30")),
    ]
    assert warm.warm(earlier) == 3  # the duplicate is not counted
    async with service(tmp_path, "en", day_tally=warm) as tap:
        assert await tap(OUT, at(2, "14:00")) == (Status.OK, "Out - Ana Nunez\nToday 5:30")


def test_a_night_shift_with_a_pause_across_midnight_is_one_day() -> None:
    t = tally()
    assert t.record("noe", IN, at(2, "22:00")) is None
    assert t.record("noe", OUT, at(2, "23:50")) == timedelta(hours=1, minutes=50)
    assert t.record("noe", IN, at(3, "00:20")) is None  # midnight passed: a pause still
    assert t.record("noe", OUT, at(3, "06:00")) == timedelta(hours=7, minutes=30)


def test_midnight_starts_a_new_day_and_forgets_the_finished_ones() -> None:
    t = tally()
    t.record("ana", IN, at(2, "08:00"))
    t.record("ana", OUT, at(2, "16:00"))
    t.record("luis", IN, at(2, "09:00"))  # forgot to clock out
    assert len(t) == 2
    assert t.record("eva", IN, at(3, "07:00")) is None  # the first tap of the 3rd
    assert len(t) == 2  # ana's day is over; luis's in is kept (no out yet), eva's new
    assert t.record("ana", IN, at(3, "08:00")) is None
    assert t.record("ana", OUT, at(3, "09:00")) == timedelta(hours=1)
    # luis's out 25 h after his in is no session: no figure
    assert t.record("luis", OUT, at(3, "10:00")) is None


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Ana", "Out - Ana"),  # out_ok fits: as it is
        ("María Núñez", "Maria Nunez"),  # out_ok does not, the name does: the name
        ("Irene Ruiz Ortega", "Out - Irene Ruiz"),  # neither: out_ok cut at 16
    ],
)
def test_the_lines_always_fit_16x2(name: str, first: str) -> None:
    text = Messages("en").render_day_total(name, "10:05")
    assert text.split("\n") == [first, "Today 10:05"]
