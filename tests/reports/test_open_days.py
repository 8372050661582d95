"""The forgotten clock-out rule (issue 22 item 4), with worked examples: an open day is
flagged only `after` past its shift's end, a late clock-out is a long day and not an
open one, a night shift is judged the next morning, a day without a timetable is not
judged, and the proposed close is the shift's end only when the in came before it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from gateway.reports.open_days import OpenDay, find_open_days
from gateway.reports.rules import Rules
from tests.reports.helpers import MADRID, clock, local, row, stored

RULES = Rules(zone=MADRID)
AFTER = timedelta(hours=2)
MONDAY = "2026-11-23"  # ISO weekday 1
DAY_SHIFT = [row("ana", 1, "09:00", "17:00"), row("ana", 2, "09:00", "17:00")]


def _punches(*taps: tuple[str, datetime]) -> list[object]:
    return [stored(clock("ana", direction, at)) for direction, at in taps]


def _open(taps: list[object], now: datetime, entries: list[object] = DAY_SHIFT) -> list[OpenDay]:
    return find_open_days(
        taps,  # type: ignore[arg-type]
        entries,  # type: ignore[arg-type]
        RULES,
        now=now,
        after=AFTER,
        first_day=date(2026, 11, 23),
    )


def test_an_in_without_an_out_is_flagged_two_hours_after_the_shift_ends() -> None:
    taps = _punches(("in", local(MONDAY, "08:57")))
    assert _open(taps, local(MONDAY, "18:59")) == []  # not yet: 17:00 + 2 h
    assert _open(taps, local(MONDAY, "19:00")) == [
        OpenDay("ana", date(2026, 11, 23), local(MONDAY, "08:57"), local(MONDAY, "17:00"),
                local(MONDAY, "17:00"))
    ]  # fmt: skip


def test_a_day_closed_is_not_open_and_a_late_out_is_a_long_day() -> None:
    closed = _punches(("in", local(MONDAY, "08:57")), ("out", local(MONDAY, "17:04")))
    assert _open(closed, local(MONDAY, "22:00")) == []
    late = _punches(("in", local(MONDAY, "08:57")), ("out", local(MONDAY, "19:40")))
    assert _open(late, local(MONDAY, "22:00")) == []


def test_a_pause_left_open_counts_and_the_next_days_in_does_not_close_it() -> None:
    taps = _punches(
        ("in", local(MONDAY, "09:00")),
        ("out", local(MONDAY, "13:00")),
        ("in", local(MONDAY, "14:00")),  # back from lunch, then never clocked out
        ("in", local("2026-11-24", "08:58")),
    )
    found = _open(taps, local("2026-11-24", "10:00"))
    assert [(o.day, o.in_at) for o in found] == [(date(2026, 11, 23), local(MONDAY, "14:00"))]


def test_a_night_shift_is_judged_the_next_morning() -> None:
    night = [row("ana", 1, "22:00", "06:00")]
    taps = _punches(("in", local(MONDAY, "21:55")))
    assert _open(taps, local("2026-11-24", "07:59"), night) == []
    found = _open(taps, local("2026-11-24", "08:00"), night)
    assert [(o.day, o.proposed_out) for o in found] == [
        (date(2026, 11, 23), local("2026-11-24", "06:00"))
    ]


def test_an_in_after_the_shift_is_flagged_with_no_close_to_propose() -> None:
    taps = _punches(
        ("in", local(MONDAY, "09:00")),
        ("out", local(MONDAY, "17:00")),
        ("in", local(MONDAY, "18:00")),  # came back for something, forgot the out
    )
    found = _open(taps, local(MONDAY, "19:30"))
    assert [(o.in_at, o.proposed_out) for o in found] == [(local(MONDAY, "18:00"), None)]


def test_a_day_without_a_timetable_is_not_judged() -> None:
    taps = _punches(("in", local("2026-11-25", "09:00")))  # Wednesday: no rows
    assert _open(taps, local("2026-11-26", "12:00")) == []


def test_a_duplicate_tap_is_no_in() -> None:
    taps = [
        stored(clock("ana", "in", local(MONDAY, "09:00"))),
        stored(clock("ana", "out", local(MONDAY, "17:00"))),
        stored(clock("ana", "in", local(MONDAY, "17:00"), duplicate=True)),
    ]
    assert _open(taps, local(MONDAY, "20:00")) == []


def test_the_delay_is_configured_in_hours_and_minutes() -> None:
    import pytest

    from gateway.config import parse_config
    from gateway.errors import ConfigError

    assert parse_config({}, "c").register.open_day_after_min == 120
    after = parse_config({"register": {"open_day_after": "1h30m"}}, "c").register
    assert after.open_day_after_min == 90
    for bad in ("soon", "0m", "200h", ""):
        with pytest.raises(ConfigError, match=r"register\.open_day_after: must be a time like"):
            parse_config({"register": {"open_day_after": bad}}, "c")
