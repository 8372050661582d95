"""Who must be here at an instant, present or absent (pure logic)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from gateway.domain import ClockEvent
from gateway.reports.presence import WhoReport, lookback_start, who
from gateway.reports.rules import Rules
from gateway.store.models import TimetableEntry
from tests.reports.helpers import MADRID, clock, local, row, stored

RULES = Rules(zone=MADRID, excluded_rooms=frozenset({"Guardia"}))
NAMES = {"ana": "Ana", "luis": "Luis", "eva": "Eva", "pau": "Pau"}
# 2026-11-23 is a Monday (ISO weekday 1).
TIMETABLE = [
    row("ana", 1, "08:15", "14:45", "Lab 1"),
    row("luis", 1, "08:15", "10:15", "Lab 2"),
    row("eva", 1, "09:00", "11:00", "Guardia"),
]


def ask(
    at: str, events: Sequence[ClockEvent], timetable: Sequence[TimetableEntry] = TIMETABLE
) -> WhoReport:
    day, hhmm = at.split()
    instant = local(day, hhmm)
    return who(instant, RULES, timetable, [stored(e) for e in events], NAMES, instant)


def test_present_and_absent_from_the_latest_event() -> None:
    report = ask(
        "2026-11-23 10:00",
        [
            clock("ana", "in", local("2026-11-23", "08:05")),
            clock("luis", "in", local("2026-11-23", "08:10")),
            clock("luis", "out", local("2026-11-23", "09:30")),
        ],
    )
    assert [(r.uid, r.room, r.present, r.last_event) for r in report.scheduled] == [
        ("ana", "Lab 1", True, "in"),
        ("luis", "Lab 2", False, "out"),
    ]
    assert [r.uid for r in report.present] == ["ana"]
    assert [r.uid for r in report.absent] == ["luis"]
    assert report.unscheduled_in == []


def test_no_event_today_is_absent_even_if_in_yesterday() -> None:
    report = ask("2026-11-23 10:00", [clock("ana", "in", local("2026-11-22", "18:00"))])
    ana = next(r for r in report.scheduled if r.uid == "ana")
    assert not ana.present and ana.last_event is None


def test_excluded_rooms_are_not_expected_but_who_is_in_is_listed() -> None:
    # eva's only row now is in an excluded room: never absent...
    report = ask("2026-11-23 10:00", [])
    assert "eva" not in [r.uid for r in report.scheduled + report.unscheduled_in]
    # ...but in, she is on the roll call, with her room.
    report = ask("2026-11-23 10:00", [clock("eva", "in", local("2026-11-23", "08:55"))])
    assert "eva" not in [r.uid for r in report.scheduled]
    assert [(r.uid, r.room, r.present) for r in report.unscheduled_in] == [("eva", "Guardia", True)]


def test_in_but_not_scheduled() -> None:
    report = ask(
        "2026-11-23 16:00",
        [
            clock("pau", "in", local("2026-11-23", "15:00")),
            clock("ana", "in", local("2026-11-23", "08:00")),
            clock("ana", "out", local("2026-11-23", "14:45")),
        ],
    )
    assert report.scheduled == []
    assert [(r.uid, r.name, r.present) for r in report.unscheduled_in] == [("pau", "Pau", True)]


def test_a_duplicate_does_not_change_presence() -> None:
    report = ask(
        "2026-11-23 10:00",
        [
            clock("luis", "in", local("2026-11-23", "08:10")),
            clock("luis", "in", local("2026-11-23", "08:10"), duplicate=True),
            clock("luis", "out", local("2026-11-23", "09:00")),
            clock("luis", "out", local("2026-11-23", "09:00"), duplicate=True),
        ],
    )
    luis = next(r for r in report.scheduled if r.uid == "luis")
    assert not luis.present


def test_night_shift_clocked_in_yesterday_is_present_after_midnight() -> None:
    night = [row("ana", 7, "22:00", "06:00", "Guard")]  # Sunday 22:00 -> Monday 06:00
    events = [clock("ana", "in", local("2026-11-22", "21:55"))]
    report = ask("2026-11-23 02:00", events, night)
    assert [(r.uid, r.present) for r in report.scheduled] == [("ana", True)]
    start = lookback_start(local("2026-11-23", "02:00"), RULES, night)
    assert start == local("2026-11-22", "22:00") - timedelta(hours=2)
    # At 06:00 the row no longer covers the instant.
    assert ask("2026-11-23 06:00", events, night).scheduled == []


def test_events_after_the_instant_are_ignored() -> None:
    report = ask(
        "2026-11-23 09:00",
        [
            clock("luis", "in", local("2026-11-23", "08:10")),
            clock("luis", "out", local("2026-11-23", "09:30")),
        ],
    )
    luis = next(r for r in report.scheduled if r.uid == "luis")
    assert luis.present


def test_dst_day_covers_the_right_hours() -> None:
    # Sunday 2026-10-25: 02:00-03:00 happens twice; a 01:00-04:00 row lasts 4 hours.
    night = [row("ana", 7, "01:00", "04:00", "Lab 1")]
    assert ask("2026-10-25 02:30", [], night).scheduled[0].uid == "ana"
    assert ask("2026-10-25 04:00", [], night).scheduled == []


def test_the_original_shift_rule_counts_taps_of_the_current_shift_only() -> None:
    from dataclasses import replace
    from datetime import time

    from gateway.reports.presence import configured_shift_start

    events = [
        clock("ana", "in", local("2026-11-23", "08:05")),  # before the 08:15 shift start
        clock("luis", "in", local("2026-11-23", "08:20")),
    ]
    at = local("2026-11-23", "10:00")
    shift = replace(RULES, presence_rule="shift")
    by_midnight = who(at, RULES, TIMETABLE, [stored(e) for e in events], NAMES, at)
    by_shift = who(at, shift, TIMETABLE, [stored(e) for e in events], NAMES, at)
    assert {r.uid for r in by_midnight.present} == {"ana", "luis"}
    assert {r.uid for r in by_shift.present} == {"luis"}
    # Between shifts the rule falls back to local midnight; a shift may cross midnight.
    night = replace(shift, shifts=((time(22, 0), time(6, 0)),))
    assert configured_shift_start(local("2026-11-23", "15:00").astimezone(MADRID), shift) is None
    start = configured_shift_start(local("2026-11-24", "02:00").astimezone(MADRID), night)
    assert start == local("2026-11-23", "22:00")
