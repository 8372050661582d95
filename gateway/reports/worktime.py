"""Working time as the law counts it (issue 22 items 2 and 3), pure: no I/O.

From one person's paired sessions (sessions.py's DayReport: night shifts and DST
already right) and their regimes, per working day:

- the working day: the sessions from a first clock-in on, dated by that clock-in. A
  session that starts on another date joins the day before only when it follows
  that day's last clock-out within `max_pause` (a night shift's pause after
  midnight); otherwise it starts a new working day.
- gross = last out - first in; each pause = an out followed by the next in of the
  same working day; net = the sum of the sessions = gross - pauses.
- the minimum break (ET 34.4): a day with more net work than a rule's hours needs a
  pause of at least its minutes in one piece; flagged `min_break` when it has none.
- hour classes, per ISO week: the regime's week is ordinary (for a week under two
  regimes, each day brings a seventh of its regime's week), taken day by day in
  order; what a day works beyond what is left of it is overtime for full time and
  complementary for part time. Overtime is paid or given back as rest: hr's choice
  for the month (overtime_choices), else the regime's default. Without a regime a
  person is counted as full time on the configured full week.
- limits, each flag named: `max_ordinary_day` (ordinary work over 9 h a day, ET
  34.3), `daily_rest` (less than 12 h from the end of one working day to the start
  of the next, ET 34.3), `weekly_rest` (less than a day and a half of uninterrupted
  rest per week, averaged over 14 days, ET 37.1), `average_week` (more than 48 h a
  week on average over the reference period, Directive 2003/88/EC art. 6 and 16(b)),
  and `open` (a clock-in with no clock-out yet, or a forgotten one: the day's figures
  count its closed sessions only).

The caller gives the sessions from far enough back for the week, the rest and the
average to be judged (WorkTimeReport.history_start says how far); only the days and
weeks inside [first_day, last_day] are returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from gateway.config.worktime import WorkTimeRules
from gateway.reports.sessions import DayReport
from gateway.store.regimes import Compensation, OvertimeChoice, Regime, choice_for, in_force

_NONE = timedelta()
_DAY = timedelta(days=1)

# Flag names, as the reports print them.
OPEN = "open"
MIN_BREAK = "min_break"
MAX_ORDINARY_DAY = "max_ordinary_day"
DAILY_REST = "daily_rest"
WEEKLY_REST = "weekly_rest"
AVERAGE_WEEK = "average_week"
OVERTIME = "overtime"
COMPLEMENTARY = "complementary"
CORRECTED = "corrected"  # a correction added or voided a punch of the day


@dataclass(frozen=True)
class WorkDay:
    person_uid: str
    day: date  # the local date of the first clock-in
    sessions: tuple[tuple[datetime, datetime], ...]  # UTC, in order
    pauses: tuple[tuple[datetime, datetime], ...]  # each out followed by the next in
    gross: timedelta
    pause: timedelta
    net: timedelta
    ordinary: timedelta
    extra: timedelta  # beyond the regime's week: overtime or complementary
    extra_kind: str  # OVERTIME (full time) or COMPLEMENTARY (part time)
    compensation: Compensation | None  # overtime only: paid or rest
    regime: Regime | None
    break_needed: int  # minutes of pause in one piece the day needs (0: none)
    flags: tuple[str, ...] = ()

    @property
    def start(self) -> datetime | None:
        return self.sessions[0][0] if self.sessions else None

    @property
    def end(self) -> datetime | None:
        return self.sessions[-1][1] if self.sessions else None

    @property
    def overtime(self) -> timedelta:
        return self.extra if self.extra_kind == OVERTIME else _NONE

    @property
    def complementary(self) -> timedelta:
        return self.extra if self.extra_kind == COMPLEMENTARY else _NONE


@dataclass(frozen=True)
class WeekSummary:
    person_uid: str
    monday: date
    net: timedelta
    ordinary: timedelta
    extra: timedelta
    contract: timedelta  # the ordinary week the regime(s) gave
    longest_rest: timedelta | None  # the longest uninterrupted rest in the rest window
    average: timedelta | None  # the average week over the reference period
    flags: tuple[str, ...] = ()


@dataclass
class MonthSummary:
    person_uid: str
    month: str  # YYYY-MM
    days_worked: int = 0
    gross: timedelta = field(default_factory=timedelta)
    pause: timedelta = field(default_factory=timedelta)
    net: timedelta = field(default_factory=timedelta)
    ordinary: timedelta = field(default_factory=timedelta)
    overtime_paid: timedelta = field(default_factory=timedelta)
    overtime_rest: timedelta = field(default_factory=timedelta)
    complementary: timedelta = field(default_factory=timedelta)
    flags: dict[str, int] = field(default_factory=dict)  # flag name -> days or weeks

    @property
    def overtime(self) -> timedelta:
        return self.overtime_paid + self.overtime_rest


@dataclass(frozen=True)
class PersonWorkTime:
    person_uid: str
    days: list[WorkDay]
    weeks: list[WeekSummary]
    months: list[MonthSummary]


def history_start(first_day: date, rules: WorkTimeRules) -> date:
    """How far back the sessions must go for [first_day, ...] to be judged: the
    Monday of the first week of the average's reference period, and the rest window."""
    monday = first_day - timedelta(days=first_day.weekday())
    average = monday - timedelta(weeks=rules.average_reference_weeks - 1)
    rest = monday - timedelta(days=rules.weekly_rest_period_days - 7)
    return min(average, rest) - _DAY  # and the day before, for the daily rest


# -- working days ------------------------------------------------------------------------


@dataclass
class _Day:
    day: date
    sessions: list[tuple[datetime, datetime]] = field(default_factory=list)
    open: bool = False
    corrected: bool = False


def working_days(days: Iterable[DayReport], zone: ZoneInfo, max_pause: timedelta) -> list[_Day]:
    """One person's sessions grouped into working days (see the module's rule)."""
    sessions: list[tuple[datetime, datetime]] = []
    open_dates: set[date] = set()
    corrected: set[date] = set()
    for d in days:
        sessions.extend(d.intervals)
        if d.open_since is not None or d.missing_out:
            open_dates.add(d.day)
        if d.corrected:
            corrected.add(d.day)
    sessions.sort()
    grouped: list[_Day] = []
    for start, end in sessions:
        local = start.astimezone(zone).date()
        last = grouped[-1] if grouped else None
        if last is not None and (local == last.day or start - last.sessions[-1][1] <= max_pause):
            last.sessions.append((start, end))
        else:
            grouped.append(_Day(local, [(start, end)]))
    by_date = {g.day: g for g in grouped}
    for day in sorted(open_dates):
        found = by_date.get(day)
        if found is None:
            found = by_date[day] = _Day(day)
            grouped.append(found)
        found.open = True
    for g in grouped:
        g.corrected = g.day in corrected
    grouped.sort(key=lambda g: g.day)
    return grouped


def _pauses(sessions: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    return [(sessions[i][1], sessions[i + 1][0]) for i in range(len(sessions) - 1)]


def _break_needed(net: timedelta, rules: WorkTimeRules) -> int:
    """The longest pause in one piece a day of `net` work needs (the strictest rule)."""
    needed = 0
    for rule in rules.breaks:
        if net > timedelta(minutes=rule.after_minutes):
            needed = max(needed, rule.minutes)
    return needed


# -- the person's figures ----------------------------------------------------------------


def person_worktime(
    uid: str,
    days: Iterable[DayReport],
    regimes: Sequence[Regime],
    choices: Sequence[OvertimeChoice],
    rules: WorkTimeRules,
    zone: ZoneInfo,
    first_day: date,
    last_day: date,
    now: datetime,
) -> PersonWorkTime:
    """One person's working days, weeks and months over [first_day, last_day], from
    their DayReports (from history_start(first_day) on) and regimes."""
    grouped = working_days(days, zone, timedelta(minutes=rules.max_pause_minutes))
    full_week = timedelta(minutes=rules.full_week_minutes)
    max_ordinary = timedelta(minutes=rules.max_ordinary_day_minutes)
    min_rest = timedelta(minutes=rules.min_daily_rest_minutes)

    def week_of(day: date) -> timedelta:
        regime = in_force(regimes, day)
        return full_week if regime is None else timedelta(minutes=regime.terms.weekly_minutes)

    result: list[WorkDay] = []
    by_week: dict[date, list[WorkDay]] = {}
    contract_of: dict[date, timedelta] = {}
    left: dict[date, timedelta] = {}
    previous_end: datetime | None = None
    for g in grouped:
        monday = g.day - timedelta(days=g.day.weekday())
        if monday not in left:
            # Each day of the week brings a seventh of its regime's week.
            sevenths = sum(
                (Fraction(int(week_of(monday + timedelta(days=n)).total_seconds()), 7))
                for n in range(7)
            )
            contract_of[monday] = left[monday] = timedelta(seconds=round(sevenths))
        sessions = tuple(g.sessions)
        pauses = tuple(_pauses(sessions))
        net = sum((end - start for start, end in sessions), _NONE)
        pause = sum((end - start for start, end in pauses), _NONE)
        gross = sessions[-1][1] - sessions[0][0] if sessions else _NONE
        ordinary = min(net, left[monday])
        left[monday] -= ordinary
        extra = net - ordinary
        regime = in_force(regimes, g.day)
        part_time = regime is not None and regime.terms.kind == "part_time"
        kind = COMPLEMENTARY if part_time else OVERTIME
        compensation: Compensation | None = None
        if kind == OVERTIME and extra > _NONE:
            default: Compensation = "paid" if regime is None else regime.terms.overtime_default
            compensation = choice_for(choices, f"{g.day:%Y-%m}", default)
        needed = _break_needed(net, rules)
        flags: list[str] = []
        if g.open:
            flags.append(OPEN)
        longest = max((end - start for start, end in pauses), default=_NONE)
        if not g.open and needed and longest < timedelta(minutes=needed):
            flags.append(MIN_BREAK)
        if ordinary > max_ordinary:
            flags.append(MAX_ORDINARY_DAY)
        start = sessions[0][0] if sessions else None
        if previous_end is not None and start is not None and start - previous_end < min_rest:
            flags.append(DAILY_REST)
        if sessions:
            previous_end = sessions[-1][1]
        if extra > _NONE:
            flags.append(kind)
        if g.corrected:
            flags.append(CORRECTED)
        work_day = WorkDay(
            uid,
            g.day,
            sessions,
            pauses,
            gross,
            pause,
            net,
            ordinary,
            extra,
            kind,
            compensation,
            regime,
            needed,
            tuple(flags),
        )
        result.append(work_day)
        by_week.setdefault(monday, []).append(work_day)

    all_sessions = sorted(s for g in grouped for s in g.sessions)
    history = history_start(first_day, rules) + _DAY
    weeks = _weeks(
        uid, by_week, contract_of, all_sessions, rules, zone, first_day, last_day, now, history
    )
    inside = [d for d in result if first_day <= d.day <= last_day]
    return PersonWorkTime(uid, inside, weeks, _months(uid, inside, weeks))


def _weeks(
    uid: str,
    by_week: Mapping[date, list[WorkDay]],
    contract_of: Mapping[date, timedelta],
    sessions: Sequence[tuple[datetime, datetime]],
    rules: WorkTimeRules,
    zone: ZoneInfo,
    first_day: date,
    last_day: date,
    now: datetime,
    history: date,
) -> list[WeekSummary]:
    """The weeks that touch [first_day, last_day], with the weekly rest and the
    average judged where the data covers them and they are over."""
    weekly_rest = timedelta(minutes=rules.weekly_rest_minutes)
    period = rules.weekly_rest_period_days
    needed_rest = weekly_rest * (period // 7)
    max_average = timedelta(minutes=rules.max_average_week_minutes)
    reference = rules.average_reference_weeks

    def net_of(monday: date) -> timedelta:
        return sum((d.net for d in by_week.get(monday, ())), _NONE)

    out: list[WeekSummary] = []
    monday = first_day - timedelta(days=first_day.weekday())
    while monday <= last_day:
        days = by_week.get(monday, [])
        next_monday = monday + timedelta(weeks=1)
        over = _midnight(next_monday, zone) <= now
        flags: list[str] = []
        longest: timedelta | None = None
        window_start = next_monday - timedelta(days=period)
        if over and window_start >= history:
            rests = _rests(sessions, _midnight(window_start, zone), _midnight(next_monday, zone))
            longest = max(rests, default=_NONE)
            if sum((r for r in rests if r >= weekly_rest), _NONE) < needed_rest:
                flags.append(WEEKLY_REST)
        average: timedelta | None = None
        first_week = monday - timedelta(weeks=reference - 1)
        if first_week >= history - timedelta(days=history.weekday()):
            total = sum((net_of(first_week + timedelta(weeks=n)) for n in range(reference)), _NONE)
            average = total / reference
            if average > max_average:
                flags.append(AVERAGE_WEEK)
        out.append(
            WeekSummary(
                uid,
                monday,
                sum((d.net for d in days), _NONE),
                sum((d.ordinary for d in days), _NONE),
                sum((d.extra for d in days), _NONE),
                contract_of.get(monday, _NONE),
                longest,
                average,
                tuple(flags),
            )
        )
        monday = next_monday
    return out


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def _rests(
    sessions: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[timedelta]:
    """The uninterrupted rests inside [start, end): the gaps between sessions, and
    before the first and after the last, clipped to the window."""
    rests: list[timedelta] = []
    cursor = start
    for s, e in sessions:
        if e <= start:
            continue
        if s >= end:
            break
        if s > cursor:
            rests.append(s - cursor)
        cursor = max(cursor, e)
    if end > cursor:
        rests.append(end - cursor)
    return rests


def _months(uid: str, days: Sequence[WorkDay], weeks: Sequence[WeekSummary]) -> list[MonthSummary]:
    months: dict[str, MonthSummary] = {}
    for d in days:
        key = f"{d.day:%Y-%m}"
        m = months.get(key)
        if m is None:
            m = months[key] = MonthSummary(uid, key)
        m.days_worked += 1 if d.net else 0
        m.gross += d.gross
        m.pause += d.pause
        m.net += d.net
        m.ordinary += d.ordinary
        m.complementary += d.complementary
        if d.compensation == "rest":
            m.overtime_rest += d.overtime
        else:
            m.overtime_paid += d.overtime
        for flag in d.flags:
            if flag not in (OVERTIME, COMPLEMENTARY, CORRECTED):
                m.flags[flag] = m.flags.get(flag, 0) + 1
    for w in weeks:
        # A week's flag counts in the month of its Sunday (where the week ends).
        key = f"{w.monday + timedelta(days=6):%Y-%m}"
        if key in months:
            for flag in w.flags:
                months[key].flags[flag] = months[key].flags.get(flag, 0) + 1
    return [months[k] for k in sorted(months)]
