"""Working time as the law counts it (issue 22 items 2 and 3): pauses, net time, hour
classes and the limits, pinned by worked examples through the reports' own pairing
(sessions.py), and by properties over random days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config.worktime import BreakRule, WorkTimeRules
from gateway.reports.rules import Rules
from gateway.reports.sessions import ReportBuilder
from gateway.reports.worktime import (
    AVERAGE_WEEK,
    COMPLEMENTARY,
    DAILY_REST,
    MAX_ORDINARY_DAY,
    MIN_BREAK,
    OPEN,
    OVERTIME,
    WEEKLY_REST,
    PersonWorkTime,
    history_start,
    person_worktime,
)
from gateway.store.regimes import OvertimeChoice, Regime, Terms
from tests.reports.helpers import MADRID, clock, local

RULES = WorkTimeRules()
LATER = datetime(2027, 6, 1, tzinfo=UTC)
H, M = timedelta(hours=1), timedelta(minutes=1)


def regime(
    kind: str,
    minutes: int,
    percent: int | None,
    valid_from: str = "2026-01-01",
    *,
    overtime: str = "paid",
    rid: int = 1,
) -> Regime:
    return Regime(
        rid,
        "ana",
        date.fromisoformat(valid_from),
        Terms(kind, minutes, percent, "on_site", overtime),  # type: ignore[arg-type]
        "rrhh",
        LATER,
    )


HALF = regime("part_time", 1200, 50)
FULL = regime("full_time", 2400, None)


def worktime(
    punches: list[tuple[str, str, str]],
    first: str,
    last: str,
    *,
    regimes: tuple[Regime, ...] = (),
    choices: tuple[OvertimeChoice, ...] = (),
    rules: WorkTimeRules = RULES,
    now: datetime = LATER,
) -> PersonWorkTime:
    """Ana's figures over [first, last] from (direction, day, HH:MM) punches in Madrid."""
    first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    builder = ReportBuilder(Rules(zone=MADRID), history_start(first_day, rules), last_day)
    events = sorted((local(day, hhmm), way) for way, day, hhmm in punches)
    for at, way in events:
        builder.add(clock("ana", way, at))
    days = list(builder.days(now))
    return person_worktime("ana", days, regimes, choices, rules, MADRID, first_day, last_day, now)


def day_of(result: PersonWorkTime, day: str):  # type: ignore[no-untyped-def]
    [found] = [d for d in result.days if d.day == date.fromisoformat(day)]
    return found


def shift(day: str, *spans: tuple[str, str]) -> list[tuple[str, str, str]]:
    out = []
    for start, end in spans:
        out += [("in", day, start), ("out", day, end)]
    return out


# -- worked examples -----------------------------------------------------------------------


def test_a_part_time_worker_at_50_percent_with_complementary_hours() -> None:
    # Week of Monday 2026-11-02: a 20 h contract. Monday has a 20-minute pause.
    punches = shift("2026-11-02", ("09:00", "11:00"), ("11:20", "14:20"))
    for day in ("2026-11-03", "2026-11-04", "2026-11-05"):
        punches += shift(day, ("09:00", "14:00"))
    punches += shift("2026-11-06", ("09:00", "12:00"))  # beyond the contract
    result = worktime(punches, "2026-11-01", "2026-11-30", regimes=(HALF,))
    monday = day_of(result, "2026-11-02")
    assert (monday.gross, monday.pause, monday.net) == (5 * H + 20 * M, 20 * M, 5 * H)
    assert [
        (p[0].astimezone(MADRID).strftime("%H:%M"), p[1].astimezone(MADRID).strftime("%H:%M"))
        for p in monday.pauses
    ] == [("11:00", "11:20")]
    assert monday.flags == ()
    friday = day_of(result, "2026-11-06")
    assert (friday.ordinary, friday.complementary, friday.overtime) == (
        timedelta(),
        3 * H,
        timedelta(),
    )
    assert friday.flags == (COMPLEMENTARY,) and friday.compensation is None
    [november] = result.months
    assert (november.ordinary, november.complementary, november.overtime) == (
        20 * H,
        3 * H,
        timedelta(),
    )
    assert november.net == 23 * H and november.days_worked == 5
    [week] = [w for w in result.weeks if w.monday == date(2026, 11, 2)]
    assert (week.contract, week.ordinary, week.extra) == (20 * H, 20 * H, 3 * H)


def test_a_night_shift_with_a_pause_across_midnight_is_one_working_day() -> None:
    punches = [
        ("in", "2026-11-09", "22:00"),
        ("out", "2026-11-09", "23:50"),
        ("in", "2026-11-10", "00:20"),  # a new calendar day, the same working day
        ("out", "2026-11-10", "06:00"),
    ]
    result = worktime(punches, "2026-11-09", "2026-11-10", regimes=(FULL,))
    [night] = result.days
    assert night.day == date(2026, 11, 9)
    assert (night.gross, night.pause, night.net) == (8 * H, 30 * M, 7 * H + 30 * M)
    assert night.pauses == ((local("2026-11-09", "23:50"), local("2026-11-10", "00:20")),)
    assert night.break_needed == 15 and MIN_BREAK not in night.flags


def test_a_dst_night_counts_the_real_hours() -> None:
    # Madrid's clocks go back at 03:00 on 2026-10-25: 22:00-06:00 is 9 real hours.
    punches = [
        ("in", "2026-10-24", "22:00"),
        ("out", "2026-10-25", "01:00"),
        ("in", "2026-10-25", "01:30"),
        ("out", "2026-10-25", "06:00"),
    ]
    result = worktime(punches, "2026-10-24", "2026-10-25", regimes=(FULL,))
    [night] = result.days
    assert night.day == date(2026, 10, 24)
    assert (night.gross, night.pause, night.net) == (9 * H, 30 * M, 8 * H + 30 * M)
    # And in March (2026-03-29, clocks forward at 02:00) the same shift is 7 hours.
    spring = worktime(
        [("in", "2026-03-28", "22:00"), ("out", "2026-03-29", "06:00")],
        "2026-03-28",
        "2026-03-29",
    )
    assert spring.days[0].net == 7 * H and MIN_BREAK in spring.days[0].flags


def test_an_open_day_is_flagged_and_counts_only_its_closed_sessions() -> None:
    punches = [*shift("2026-11-12", ("08:00", "10:00")), ("in", "2026-11-12", "10:30")]
    now = local("2026-11-12", "13:00")
    result = worktime(punches, "2026-11-01", "2026-11-30", now=now)
    day = day_of(result, "2026-11-12")
    assert OPEN in day.flags and day.net == 2 * H and MIN_BREAK not in day.flags
    # Forgotten (no clock-out long after the shift): still open, never closed on its own.
    forgot = worktime([("in", "2026-11-12", "08:00")], "2026-11-01", "2026-11-30")
    assert day_of(forgot, "2026-11-12").flags == (OPEN,)
    assert day_of(forgot, "2026-11-12").net == timedelta()
    assert forgot.months[0].flags == {OPEN: 1}


def test_a_broken_minimum_break() -> None:
    cases = {
        ("08:00", "15:00"): True,  # 7 h in one go
        ("08:00", "11:00", "11:10", "15:10"): True,  # 10 minutes is not 15
        ("08:00", "11:00", "11:15", "15:15"): False,  # 15 minutes in one piece
        ("08:00", "14:00"): False,  # 6 h exactly: not over 6 h
    }
    for times, broken in cases.items():
        spans = list(zip(times[::2], times[1::2], strict=True))
        result = worktime(shift("2026-11-16", *spans), "2026-11-16", "2026-11-16")
        assert (MIN_BREAK in result.days[0].flags) is broken, times
    # The rules come from the configuration: 30 minutes after 6 h, 45 after 9 h.
    german = WorkTimeRules(breaks=(BreakRule(360, 30), BreakRule(540, 45)))
    long_day = shift("2026-11-16", ("07:00", "12:00"), ("12:30", "17:30"))  # 10 h, 30 min
    result = worktime(long_day, "2026-11-16", "2026-11-16", rules=german)
    assert result.days[0].break_needed == 45 and MIN_BREAK in result.days[0].flags


def test_overtime_is_paid_or_rest_by_the_default_and_hr_s_choice() -> None:
    week = []
    for n in range(2, 7):  # Monday 2 to Friday 6 November: 8 h each
        week += shift(f"2026-11-0{n}", ("08:00", "12:00"), ("12:30", "16:30"))
    week += shift("2026-11-07", ("09:00", "13:00"))  # Saturday: 4 h over the 40
    rest = regime("full_time", 2400, None, overtime="rest")
    result = worktime(week, "2026-11-01", "2026-11-30", regimes=(rest,))
    saturday = day_of(result, "2026-11-07")
    assert (saturday.ordinary, saturday.overtime, saturday.compensation) == (
        timedelta(),
        4 * H,
        "rest",
    )
    assert saturday.flags == (OVERTIME,)
    assert result.months[0].overtime_rest == 4 * H and result.months[0].ordinary == 40 * H
    choice = OvertimeChoice(1, "ana", "2026-11", "paid", "rrhh", LATER)
    paid = worktime(week, "2026-11-01", "2026-11-30", regimes=(rest,), choices=(choice,))
    assert day_of(paid, "2026-11-07").compensation == "paid"
    assert paid.months[0].overtime_paid == 4 * H and paid.months[0].overtime_rest == timedelta()


def test_a_regime_change_mid_week_gives_each_day_a_seventh_of_its_week() -> None:
    # Full time until Wednesday, then 50 %: 3/7 of 40 h + 4/7 of 20 h = 28:34:17.
    later = regime("part_time", 1200, 50, "2026-11-05", rid=2)
    result = worktime(
        shift("2026-11-02", ("08:00", "09:00")), "2026-11-02", "2026-11-08", regimes=(FULL, later)
    )
    [week] = result.weeks
    assert week.contract == timedelta(seconds=round((3 * 2400 * 60 + 4 * 1200 * 60) / 7))


def test_the_limits_are_each_flagged_by_name() -> None:
    # 10 h of ordinary work in a day (ET 34.3: 9 h).
    long_day = worktime(
        shift("2026-11-02", ("07:00", "12:00"), ("12:30", "17:30")),
        "2026-11-02",
        "2026-11-02",
        regimes=(FULL,),
    )
    assert MAX_ORDINARY_DAY in long_day.days[0].flags
    # 8 h between the end of one day and the start of the next (ET 34.3: 12 h).
    late = shift("2026-11-02", ("15:00", "23:00")) + shift("2026-11-03", ("07:00", "12:00"))
    rest = worktime(late, "2026-11-02", "2026-11-03")
    assert DAILY_REST not in day_of(rest, "2026-11-02").flags
    assert DAILY_REST in day_of(rest, "2026-11-03").flags
    # Thirteen days in a row, a day off, then on: no day and a half in 14 days twice.
    days = []
    for n in range(13):
        day = (date(2026, 11, 2) + timedelta(days=n)).isoformat()
        days += shift(day, ("08:00", "12:00"))
    weekly = worktime(days, "2026-11-09", "2026-11-15")
    [week] = weekly.weeks
    assert WEEKLY_REST in week.flags and week.longest_rest is not None
    # Saturday 14 noon to the window's end: 36 h, once; two weeks need 72 h.
    assert week.longest_rest == 36 * H
    # The same with every Sunday off keeps the rest (Saturday noon to Monday 8:00).
    sundays_off = [p for p in days if p[1] != "2026-11-08"]
    assert WEEKLY_REST not in worktime(sundays_off, "2026-11-09", "2026-11-15").weeks[0].flags
    # 17 weeks of 50 h: over the 48 h average (Directive 2003/88 art. 6).
    heavy = []
    monday = date(2026, 7, 20)
    for week_n in range(18):
        for n in range(5):
            day = (monday + timedelta(weeks=week_n, days=n)).isoformat()
            heavy += shift(day, ("07:00", "12:00"), ("12:30", "17:30"))
    flagged = worktime(heavy, "2026-11-16", "2026-11-22", regimes=(FULL,))
    assert flagged.weeks[0].average == 50 * H and AVERAGE_WEEK in flagged.weeks[0].flags
    assert flagged.months[0].flags.get(AVERAGE_WEEK) == 1


# -- properties ---------------------------------------------------------------------------

spans = st.lists(
    st.tuples(st.integers(0, 60 * 24 * 20), st.integers(1, 60 * 10)), min_size=1, max_size=25
)


@settings(max_examples=60, deadline=None)
@given(spans, st.sampled_from([None, HALF, FULL]))
def test_net_is_gross_minus_pauses_and_classes_sum_to_net(
    raw: list[tuple[int, int]], chosen: Regime | None
) -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    punches: list[tuple[str, str, str]] = []
    cursor = 0
    for offset, length in sorted(raw):
        begin = max(offset, cursor + 1)
        cursor = begin + length
        for way, minute in (("in", begin), ("out", cursor)):
            local_time = (start + timedelta(minutes=minute)).astimezone(MADRID)
            punches.append((way, local_time.date().isoformat(), local_time.strftime("%H:%M")))
    result = worktime(
        punches, "2026-11-02", "2026-12-31", regimes=() if chosen is None else (chosen,)
    )
    for d in result.days:
        assert d.net == d.gross - d.pause
        assert d.ordinary + d.extra == d.net
        assert d.ordinary >= timedelta() and d.extra >= timedelta()
        assert d.pause == sum((e - s for s, e in d.pauses), timedelta())
    for m in result.months:
        days = [d for d in result.days if f"{d.day:%Y-%m}" == m.month]
        assert m.net == sum((d.net for d in days), timedelta())
        assert m.ordinary + m.overtime + m.complementary == m.net
    total = sum((d.net for d in result.days), timedelta())
    assert total == sum(((end - begin) for begin, end in _pairs(punches)), timedelta())


def _pairs(punches: list[tuple[str, str, str]]) -> list[tuple[datetime, datetime]]:
    moments = [local(day, hhmm) for _, day, hhmm in punches]
    return list(zip(moments[::2], moments[1::2], strict=True))
