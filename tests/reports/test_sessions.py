"""The day rules: pairing, midnight, DST, flags, lateness, month totals (pure logic)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from gateway.reports.rules import Rules
from gateway.reports.sessions import DayReport, ReportBuilder, month_totals
from gateway.store.models import TimetableEntry
from tests.reports.helpers import MADRID, clock, local, row, stored

RULES = Rules(zone=MADRID, late_grace=timedelta(minutes=5))
FAR_FUTURE = local("2030-01-01", "00:00")
H = timedelta(hours=1)


def build(
    events: Sequence[tuple[str, str, str]],
    first: str,
    last: str,
    *,
    timetable: Sequence[TimetableEntry] = (),
    now: str | None = None,
    dup: Sequence[int] = (),
) -> list[DayReport]:
    """events: (direction, 'YYYY-MM-DD', 'HH:MM') for person 'ana', Madrid time."""
    builder = ReportBuilder(
        RULES,
        date.fromisoformat(first),
        date.fromisoformat(last),
        {"ana": list(timetable)} if timetable else {},
    )
    for i, (direction, day, hhmm) in enumerate(events):
        builder.add(stored(clock("ana", direction, local(day, hhmm), duplicate=i in dup)))
    if now:
        day, hhmm = now.split()
        moment = local(day, hhmm)
    else:
        moment = FAR_FUTURE
    return list(builder.days(moment))


def test_a_plain_day_pairs_in_and_out() -> None:
    [day] = build(
        [("in", "2026-11-23", "08:02"), ("out", "2026-11-23", "14:47")], *["2026-11-23"] * 2
    )
    assert day.worked == timedelta(hours=6, minutes=45)
    assert day.first_in == local("2026-11-23", "08:02")
    assert day.last_out == local("2026-11-23", "14:47")
    assert day.sessions == 1
    assert day.flags == []


def test_sessions_of_a_day_are_summed() -> None:
    [day] = build(
        [
            ("in", "2026-11-23", "08:00"),
            ("out", "2026-11-23", "12:00"),
            ("in", "2026-11-23", "16:00"),
            ("out", "2026-11-23", "18:30"),
        ],
        "2026-11-23",
        "2026-11-23",
    )
    assert day.worked == timedelta(hours=6, minutes=30)
    assert day.sessions == 2
    assert day.last_out == local("2026-11-23", "18:30")


def test_a_shift_across_midnight_counts_on_the_day_of_the_clock_in() -> None:
    days = build(
        [("in", "2026-11-23", "22:00"), ("out", "2026-11-24", "06:00")], "2026-11-23", "2026-11-24"
    )
    assert [(d.day, d.worked) for d in days] == [(date(2026, 11, 23), 8 * H)]
    assert days[0].last_out == local("2026-11-24", "06:00")
    assert days[0].flags == []


def test_dst_spring_forward_night_is_seven_hours() -> None:
    # Europe/Madrid: Sunday 2026-03-29 02:00 CET -> 03:00 CEST.
    assert date(2026, 3, 29).isoweekday() == 7
    [day] = build(
        [("in", "2026-03-28", "22:00"), ("out", "2026-03-29", "06:00")], "2026-03-28", "2026-03-29"
    )
    assert day.worked == 7 * H


def test_dst_fall_back_night_is_nine_hours() -> None:
    # Europe/Madrid: Sunday 2026-10-25 03:00 CEST -> 02:00 CET.
    assert date(2026, 10, 25).isoweekday() == 7
    [day] = build(
        [("in", "2026-10-24", "22:00"), ("out", "2026-10-25", "06:00")], "2026-10-24", "2026-10-25"
    )
    assert day.worked == 9 * H


def test_dst_day_itself_counts_real_time() -> None:
    [day] = build(
        [("in", "2026-10-25", "00:30"), ("out", "2026-10-25", "05:00")], "2026-10-25", "2026-10-25"
    )
    assert day.worked == timedelta(hours=5, minutes=30)  # 4:30 on the clock + the repeated hour


def test_dst_scheduled_night_block_has_its_real_length() -> None:
    night = row("ana", 6, "22:00", "06:00")  # Saturday night into Sunday
    [sat] = build([], "2026-10-24", "2026-10-24", timetable=[night])
    assert sat.scheduled == 9 * H
    [sat] = build([], "2026-03-28", "2026-03-28", timetable=[night])
    assert sat.scheduled == 7 * H


def test_in_after_in_flags_a_missing_clock_out_and_counts_nothing() -> None:
    days = build(
        [
            ("in", "2026-11-23", "08:00"),
            ("in", "2026-11-24", "08:00"),
            ("out", "2026-11-24", "14:00"),
        ],
        "2026-11-23",
        "2026-11-24",
    )
    assert [(d.day.day, d.worked, d.missing_out, d.flags) for d in days] == [
        (23, timedelta(), 1, ["missing-out"]),
        (24, 6 * H, 0, []),
    ]
    assert days[0].first_in == local("2026-11-23", "08:00")


def test_an_in_never_followed_by_an_out_is_missing_once_it_is_old() -> None:
    [day] = build([("in", "2026-11-23", "08:00")], "2026-11-23", "2026-11-23")
    assert day.missing_out == 1 and day.open_since is None


def test_a_recent_in_without_out_is_open_not_missing() -> None:
    [day] = build(
        [("in", "2026-11-23", "08:00")], "2026-11-23", "2026-11-23", now="2026-11-23 11:00"
    )
    assert day.missing_out == 0
    assert day.open_since == local("2026-11-23", "08:00")
    assert day.flags == ["open"]


def test_out_without_in_is_flagged_on_its_day() -> None:
    [day] = build([("out", "2026-11-23", "14:00")], "2026-11-23", "2026-11-23")
    assert day.out_without_in == 1
    assert day.worked == timedelta()
    assert day.last_out == local("2026-11-23", "14:00")
    assert day.flags == ["out-without-in"]


def test_a_session_longer_than_the_limit_is_not_paired() -> None:
    days = build(
        [("in", "2026-11-23", "08:00"), ("out", "2026-11-24", "09:00")], "2026-11-23", "2026-11-24"
    )
    assert [(d.missing_out, d.out_without_in, d.worked) for d in days] == [
        (1, 0, timedelta()),
        (0, 1, timedelta()),
    ]


def test_duplicates_are_counted_never_paired() -> None:
    [day] = build(
        [
            ("in", "2026-11-23", "08:00"),
            ("in", "2026-11-23", "08:00"),
            ("out", "2026-11-23", "14:00"),
            ("out", "2026-11-23", "14:01"),
        ],
        "2026-11-23",
        "2026-11-23",
        dup=[1, 3],
    )
    assert day.worked == 6 * H
    assert day.duplicates == 2
    assert day.last_out == local("2026-11-23", "14:00")
    assert day.flags == ["duplicates=2"]


def test_a_night_shift_before_the_range_does_not_leak_into_it() -> None:
    # The 06:00 clock-out closes a session of the 22nd, outside the range: the 23rd
    # must not show a clock-out without clock-in, and the 22nd is not listed.
    days = build(
        [
            ("in", "2026-11-22", "22:00"),
            ("out", "2026-11-23", "06:00"),
            ("in", "2026-11-23", "22:00"),
            ("out", "2026-11-24", "06:00"),
        ],
        "2026-11-23",
        "2026-11-23",
    )
    assert [(d.day.day, d.worked, d.flags) for d in days] == [(23, 8 * H, [])]


def test_an_empty_range_has_no_rows() -> None:
    assert build([], "2026-11-01", "2026-11-30") == []
    assert month_totals([]) == []


MONDAY_MORNING = row("ana", 1, "08:15", "14:45")  # 2026-11-23 is a Monday


def test_late_beyond_grace_against_the_timetable() -> None:
    [day] = build(
        [("in", "2026-11-23", "08:31"), ("out", "2026-11-23", "14:45")],
        "2026-11-23",
        "2026-11-23",
        timetable=[MONDAY_MORNING],
    )
    assert day.late_minutes == 16
    assert day.scheduled == timedelta(hours=6, minutes=30)
    assert day.flags == ["late=16min"]


def test_within_grace_is_on_time() -> None:
    [day] = build(
        [("in", "2026-11-23", "08:20"), ("out", "2026-11-23", "14:45")],
        "2026-11-23",
        "2026-11-23",
        timetable=[MONDAY_MORNING],
    )
    assert day.late_minutes == 0 and day.flags == []


def test_already_in_from_the_night_before_is_on_time() -> None:
    # Sunday night shift running into a Monday block.
    [mon] = build(
        [("in", "2026-11-22", "23:00"), ("out", "2026-11-23", "09:00")],
        "2026-11-23",
        "2026-11-23",
        timetable=[row("ana", 1, "08:00", "09:00")],
    )
    assert mon.late_minutes == 0 and not mon.absent


def test_a_scheduled_day_without_events_is_absent_once_over() -> None:
    [day] = build([], "2026-11-23", "2026-11-23", timetable=[MONDAY_MORNING])
    assert day.absent and day.flags == ["absent"]
    [day] = build(
        [], "2026-11-23", "2026-11-23", timetable=[MONDAY_MORNING], now="2026-11-23 10:00"
    )
    assert not day.absent  # the block is not over yet
    [day] = build(
        [], "2026-11-23", "2026-11-23", timetable=[MONDAY_MORNING], now="2026-11-23 08:00"
    )
    assert day.flags == []


def test_consecutive_slots_are_one_block_and_a_break_is_not_a_late_arrival() -> None:
    slots = [
        row("ana", 1, "08:15", "09:15"),
        row("ana", 1, "09:15", "10:15"),
        row("ana", 1, "10:15", "11:15"),
        row("ana", 1, "11:45", "12:45"),
    ]
    [day] = build(
        [("in", "2026-11-23", "08:10"), ("out", "2026-11-23", "12:45")],
        "2026-11-23",
        "2026-11-23",
        timetable=slots,
    )
    assert day.late_minutes == 0
    assert day.scheduled == 4 * H


def test_month_totals_per_person() -> None:
    events = []
    for d in ("2026-10-30", "2026-11-02", "2026-11-03"):
        events += [("in", d, "08:00"), ("out", d, "15:30")]
    events += [("in", "2026-11-04", "08:00")]
    days = build(events, "2026-10-01", "2026-11-30")
    totals = month_totals(days)
    assert [(t.month, t.days_worked, t.worked, t.missing_out) for t in totals] == [
        ("2026-10", 1, timedelta(hours=7, minutes=30), 0),
        ("2026-11", 2, 15 * H, 1),
    ]


def test_events_of_several_people_interleaved() -> None:
    builder = ReportBuilder(RULES, date(2026, 11, 23), date(2026, 11, 23))
    for uid, direction, hhmm in [
        ("ana", "in", "08:00"),
        ("luis", "in", "08:05"),
        ("ana", "out", "12:00"),
        ("luis", "out", "13:05"),
    ]:
        builder.add(stored(clock(uid, direction, local("2026-11-23", hhmm))))
    assert [(d.person_uid, d.worked) for d in builder.days(FAR_FUTURE)] == [
        ("ana", 4 * H),
        ("luis", 5 * H),
    ]


def test_a_forgotten_clock_out_still_counts_as_arrived() -> None:
    [day] = build(
        [("in", "2026-11-23", "08:12")], "2026-11-23", "2026-11-23", timetable=[MONDAY_MORNING]
    )
    assert day.flags == ["missing-out"]
    [day] = build(
        [("in", "2026-11-23", "08:40"), ("in", "2026-11-24", "08:00")],
        "2026-11-23",
        "2026-11-23",
        timetable=[MONDAY_MORNING],
    )
    assert day.flags == ["missing-out", "late=25min"]


def test_excluded_rooms_are_not_judged() -> None:
    rules = Rules(zone=MADRID, excluded_rooms=frozenset({"Guardia"}))
    timetable = {"ana": [row("ana", 1, "08:15", "14:45", "Guardia")]}
    builder = ReportBuilder(rules, date(2026, 11, 23), date(2026, 11, 23), timetable)
    builder.add(stored(clock("ana", "in", local("2026-11-23", "09:00"))))
    builder.add(stored(clock("ana", "out", local("2026-11-23", "10:00"))))
    [day] = builder.days(FAR_FUTURE)
    assert (day.worked, day.scheduled, day.flags) == (H, timedelta(), [])
    # A day with no events in an excluded room is no row at all.
    assert (
        list(
            ReportBuilder(rules, date(2026, 11, 23), date(2026, 11, 23), timetable).days(FAR_FUTURE)
        )
        == []
    )
