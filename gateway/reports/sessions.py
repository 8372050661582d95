"""Per person, per local day: first in, last out, worked time and flags.

Rules (documented in the README; tests/reports/test_sessions.py pins them):

- Events are taken in received_at order. Suppressed duplicates (outcome 'duplicate')
  are never paired: they only raise the day's `duplicates` count.
- An in followed by an out within `max_session` is a session; its worked time is
  out - in computed on UTC instants, so a session over a DST change counts the real
  time (a 22:00-06:00 shift is 7 h in March and 9 h in October in Madrid).
- A session belongs to the local day of its clock-in: a night shift counts on the day
  it started, even though its clock-out is dated the next day. A clock-in within
  `max_pause` (2 h) of the previous session's clock-out continues that session's
  working day, past midnight too: 22:00-23:50 and 00:20-06:00 are one day (the day
  the shift began) with a pause 23:50-00:20, not two days.
- An in followed by another in (or by nothing for longer than `max_session`) is a
  missing clock-out: flagged on the day of the in, no time counted. An in that is
  recent enough to be still going is `open` instead, not a fault.
- An out without a preceding open in (or too long after it) is a clock-out without
  clock-in, flagged on its own day.
- Late: for each timetable block of the day (consecutive rows merged), the person
  is on time when already in at block start + grace (a clock-in whose clock-out was
  forgotten counts as in until the person's next event, `max_session` at most);
  otherwise, a first clock-in
  during the block makes them late by (clock-in - block start). No presence at all
  during a finished block is `absent`. Blocks not yet started + grace are not judged.
  Rows in `presence.excluded_rooms` are left out here as in `who`: no scheduled
  time, no late, no absent for them (worked time still counts).

Memory: the builder keeps per-day state for each person (a few numbers and that
day's session intervals), never the event list, so a long range streams through it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from gateway.domain import Direction, Outcome
from gateway.reports.rules import Rules, as_utc
from gateway.reports.schedule import Block, blocks_for_day
from gateway.store.models import SwipeFacts, TimetableEntry

# Plain values for the per-event comparisons (a StrEnum member costs a lookup each).
_DUPLICATE = Outcome.DUPLICATE.value
_IN = Direction.IN.value
_ONE_DAY = timedelta(days=1)
_NONE = timedelta()
_TICK = timedelta(microseconds=1)


@dataclass
class _DayState:
    first_in: datetime | None = None
    last_out: datetime | None = None
    worked: timedelta = field(default_factory=timedelta)
    sessions: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Ins that never got an out, each with when the person was last assumed in: until
    # their next event, or `max_session` at most. Never worked time; only for lateness.
    lone_ins: list[tuple[datetime, datetime]] = field(default_factory=list)
    out_without_in: int = 0
    duplicates: int = 0
    imported: int = 0  # events brought over from the original system
    open_since: datetime | None = None


@dataclass(frozen=True)
class DayReport:
    person_uid: str
    day: date
    first_in: datetime | None  # UTC; render in the report's zone
    last_out: datetime | None
    worked: timedelta
    sessions: int
    scheduled: timedelta
    missing_out: int
    out_without_in: int
    duplicates: int
    late_minutes: int  # summed over the day's late blocks; 0 when on time
    absent: bool  # a finished timetable block with no presence at all
    open_since: datetime | None  # clocked in and, as far as we know, still in
    imported: int = 0  # of the day's events, how many came from the original system
    corrected: bool = False  # a correction added or voided a punch of this day
    clock_step: bool = False  # the gateway's wall clock was stepped this day: check it
    # The day's sessions (in, out; UTC) in order: the gaps between them are its pauses.
    intervals: tuple[tuple[datetime, datetime], ...] = ()

    @property
    def flags(self) -> list[str]:
        out = []
        if self.missing_out:
            out.append("missing-out" + (f"x{self.missing_out}" if self.missing_out > 1 else ""))
        if self.out_without_in:
            n = self.out_without_in
            out.append("out-without-in" + (f"x{n}" if n > 1 else ""))
        if self.duplicates:
            out.append(f"duplicates={self.duplicates}")
        if self.late_minutes:
            out.append(f"late={self.late_minutes}min")
        if self.absent:
            out.append("absent")
        if self.open_since is not None:
            out.append("open")
        if self.imported:
            out.append("imported")
        if self.corrected:
            out.append("corrected")
        if self.clock_step:
            out.append("clock-step")
        return out


class LocalDates:
    """UTC instant -> local date, remembering the span of the last local day.

    A report asks for the local day of most of its events, in received order: a
    year of a lab is 130,000 astimezone calls, most of them on the day just asked.
    The span is cached only when the zone's offset is the same at both of its ends
    (no zone changes its offset twice within a day), so every instant inside it has
    that offset and so that date; the days of a DST change are simply not cached.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._lo = self._hi = datetime.min.replace(tzinfo=UTC)
        self._day = date.min

    def date_of(self, moment: datetime) -> date:
        if self._lo <= moment < self._hi:
            return self._day
        local = moment.astimezone(self.zone)
        day = local.date()
        offset = local.utcoffset()
        # The instant of local midnight under this offset (same-tzinfo subtraction is
        # by wall clock: the time since midnight), and of the next one.
        lo = moment - (local - local.replace(hour=0, minute=0, second=0, microsecond=0))
        hi = lo + _ONE_DAY
        zone = self.zone
        if (
            lo.astimezone(zone).utcoffset() == offset
            and (hi - _TICK).astimezone(zone).utcoffset() == offset
        ):
            self._lo, self._hi, self._day = lo, hi, day
        return day


class _PersonTracker:
    """The pairing state machine for one person."""

    def __init__(self, rules: Rules, dates: LocalDates | None = None) -> None:
        self.rules = rules
        self.dates = dates or LocalDates(rules.zone)
        self.max_session = rules.max_session
        self.max_pause = rules.max_pause
        self.days: dict[date, _DayState] = {}
        self.open_in: datetime | None = None
        self.open_day: _DayState | None = None  # the working day the open in belongs to
        # The last session's clock-out and its working day: an in soon after continues it.
        self.last_session: tuple[datetime, _DayState] | None = None
        # The last instant asked for and its day: a clock-out's session goes to the
        # day of its clock-in, asked a moment before, so most asks skip astimezone.
        self._last: tuple[datetime, _DayState] | None = None

    def day(self, moment: datetime) -> _DayState:
        last = self._last
        if last is not None and last[0] is moment:
            return last[1]
        local = self.dates.date_of(moment)
        state = self.days.get(local)
        if state is None:
            state = self.days[local] = _DayState()
        self._last = (moment, state)
        return state

    def add(self, direction: str, outcome: str, moment: datetime, imported: bool = False) -> None:
        if imported:
            self.day(moment).imported += 1
        if outcome == _DUPLICATE:
            self.day(moment).duplicates += 1
            return
        if direction == _IN:
            if self.open_in is not None:
                self._close_unpaired(moment)
            self.open_in = moment
            last = self.last_session
            if last is not None and _NONE <= moment - last[0] <= self.max_pause:
                state = last[1]  # a pause: the same working day, whatever the date
            else:
                state = self.day(moment)
            self.open_day = state
            if state.first_in is None or moment < state.first_in:
                state.first_in = moment
            return
        open_in = self.open_in
        if open_in is not None and moment - open_in <= self.max_session:
            state = self.open_day or self.day(open_in)
            state.worked += moment - open_in
            state.sessions.append((open_in, moment))
            self.open_in = self.open_day = None
            self.last_session = (moment, state)
        else:
            self._close_unpaired(moment)
            state = self.day(moment)
            state.out_without_in += 1
        if state.last_out is None or moment > state.last_out:
            state.last_out = moment

    def _close_unpaired(self, next_event: datetime) -> None:
        if self.open_in is not None:
            until = min(next_event, self.open_in + self.rules.max_session)
            (self.open_day or self.day(self.open_in)).lone_ins.append((self.open_in, until))
            self.open_in = self.open_day = None
            self.last_session = None  # a forgotten out: what follows is not a pause

    def finish(self, now: datetime) -> None:
        if self.open_in is not None:
            if now - self.open_in < self.rules.max_session:
                (self.open_day or self.day(self.open_in)).open_since = self.open_in
            else:
                self._close_unpaired(now)
            self.open_in = self.open_day = None


def _judge_blocks(
    blocks: Sequence[Block],
    nearby: Sequence[_DayState],
    now: datetime,
    grace: timedelta,
) -> tuple[int, bool]:
    """Late minutes and absence over the day's blocks, from the sessions of the day
    and the days either side (a night shift's session may cover the next day's block)."""
    if not blocks:
        return 0, False
    # Plain loops, no generators: this runs once per person-day of a report.
    intervals: list[tuple[datetime, datetime]] = []
    for state in nearby:
        intervals += state.sessions
        # A forgotten clock-out still says the person came: on time or late, not absent.
        intervals += state.lone_ins
        if state.open_since is not None:
            intervals.append((state.open_since, now))
    # Every arrival is the start of one of these intervals.
    late = 0
    absent = False
    for block in blocks:
        block_start, block_end = block.start, block.end
        deadline = block_start + grace
        if deadline > now:
            continue  # not started yet: nothing to judge
        first: datetime | None = None
        overlaps = False
        for start, end in intervals:
            if start <= deadline < end:
                break  # in at the deadline: on time
            if deadline < start < block_end and (first is None or start < first):
                first = start
            if start < block_end and end > block_start:
                overlaps = True
        else:
            if first is not None:
                late += int((first - block_start).total_seconds() // 60)
            elif block_end <= now and not overlaps:
                absent = True
    return late, absent


class ReportBuilder:
    """Feed it events in received_at order (any mix of people); ask for the days."""

    def __init__(
        self,
        rules: Rules,
        first_day: date,
        last_day: date,
        timetable: Mapping[str, Sequence[TimetableEntry]] | None = None,
        corrected: Collection[tuple[str, date]] = frozenset(),
    ) -> None:
        self.rules = rules
        self.corrected = corrected  # (uid, local day) touched by a correction
        self.first_day = first_day
        self.last_day = last_day
        self.timetable = timetable or {}
        self._people: dict[str, _PersonTracker] = {}
        # One resolver for everyone: events arrive in received order, so the day just
        # asked is the next event's day too, whoever tapped.
        self._dates = LocalDates(rules.zone)
        # Per timetable pattern (the wall times of a weekday's rows of a person), its
        # blocks per day: many people share a pattern, so each (pattern, day) is
        # computed once. Rooms are left out of the key (the same hours in Lab 1 and Lab
        # 2 are one pattern): the blocks' rooms are never read here, only their times.
        self._block_cache: dict[
            tuple[tuple[time, time], ...], dict[date, tuple[list[Block], timedelta]]
        ] = {}

    def add(self, event: SwipeFacts) -> None:
        # `source` is on stored events and rows since schema v2; plain test events may lack it.
        imported = getattr(event, "source", "reader") == "import"
        self.add_swipe(
            event.person_uid, event.direction, event.outcome, event.received_at, imported
        )

    def add_swipe(
        self, uid: str, direction: str, outcome: str, moment: datetime, imported: bool = False
    ) -> None:
        """`add` from plain values: what a report's loop calls with a row's columns,
        unpacked (a database row's attributes cost a lookup each, per event)."""
        tracker = self._people.get(uid)
        if tracker is None:
            tracker = self._people[uid] = _PersonTracker(self.rules, self._dates)
        if moment.tzinfo is not UTC:  # as_utc inline: once per event of a report
            moment = as_utc(moment)
        tracker.add(direction, outcome, moment, imported)

    def add_all(self, events: Iterable[SwipeFacts]) -> None:
        for event in events:
            self.add(event)

    def days(self, now: datetime, uids: Iterable[str] | None = None) -> Iterator[DayReport]:
        """Day rows for [first_day, last_day], by person uid then date: every day with
        an event or a timetable block. `uids` limits it (default: everyone seen or
        scheduled)."""
        now = as_utc(now)
        wanted = sorted(set(uids) if uids is not None else set(self._people) | set(self.timetable))
        for uid in wanted:
            yield from self._person_days(uid, now)

    def _weekday_blocks(
        self, uid: str
    ) -> dict[int, tuple[list[TimetableEntry], dict[date, tuple[list[Block], timedelta]]]]:
        """The person's rows per ISO weekday (excluded rooms left out), each with the
        block cache of its pattern."""
        by_weekday: dict[int, list[TimetableEntry]] = {}
        for entry in self.timetable.get(uid, ()):
            if entry.room not in self.rules.excluded_rooms:
                by_weekday.setdefault(entry.weekday, []).append(entry)
        found = {}
        for weekday, entries in by_weekday.items():
            key = tuple(sorted([(e.start, e.end) for e in entries]))
            cache = self._block_cache.get(key)
            if cache is None:
                cache = self._block_cache[key] = {}
            found[weekday] = (entries, cache)
        return found

    def _blocks(
        self,
        entries: list[TimetableEntry],
        cache: dict[date, tuple[list[Block], timedelta]],
        day: date,
    ) -> tuple[list[Block], timedelta]:
        """The day's blocks and their scheduled time, computed once per pattern and day."""
        cached = cache.get(day)
        if cached is None:
            blocks = blocks_for_day(entries, day, self.rules.zone)
            cached = cache[day] = (blocks, sum((b.length for b in blocks), _NONE))
        return cached

    def _person_days(self, uid: str, now: datetime) -> Iterator[DayReport]:
        tracker = self._people.get(uid) or _PersonTracker(self.rules, self._dates)
        tracker.finish(now)
        by_weekday = self._weekday_blocks(uid)
        empty = _DayState()
        days, corrected, grace = tracker.days, self.corrected, self.rules.late_grace
        no_blocks: tuple[list[Block], timedelta] = ([], _NONE)
        new_day = object.__new__
        any_fixed = bool(corrected)
        # The day before, this day and the next, rolled forward one day at a time.
        day = self.first_day
        weekday = day.isoweekday()
        before = days.get(day - _ONE_DAY, empty)
        state = days.get(day)
        while day <= self.last_day:
            after = day + _ONE_DAY
            following = days.get(after)
            todays = by_weekday.get(weekday)
            if todays is None:
                blocks, scheduled = no_blocks
            else:
                blocks, scheduled = todays[1].get(day) or self._blocks(*todays, day)
            fixed = any_fixed and (uid, day) in corrected
            if state is not None or blocks or fixed:
                current = state or empty
                if blocks:
                    nearby = (before, current, following or empty)
                    late, absent = _judge_blocks(blocks, nearby, now, grace)
                else:
                    late, absent = 0, False
                sessions = current.sessions
                # The frozen dataclass's own __init__ sets each of its 18 fields through
                # object.__setattr__: a second of a year's report for 200 people. The
                # same fields, filled in one step (every field, defaults included).
                row = new_day(DayReport)
                row.__dict__.update(
                    person_uid=uid,
                    day=day,
                    first_in=current.first_in,
                    last_out=current.last_out,
                    worked=current.worked,
                    sessions=len(sessions),
                    scheduled=scheduled,
                    missing_out=len(current.lone_ins),
                    out_without_in=current.out_without_in,
                    duplicates=current.duplicates,
                    late_minutes=late,
                    absent=absent,
                    open_since=current.open_since,
                    imported=current.imported,
                    corrected=fixed,
                    clock_step=False,
                    intervals=tuple(sorted(sessions)) if len(sessions) > 1 else tuple(sessions),
                )
                yield row
            before, state, day = state or empty, following, after
            weekday = weekday + 1 if weekday < 7 else 1


@dataclass
class MonthTotal:
    person_uid: str
    month: str  # 'YYYY-MM'
    days_worked: int = 0
    worked: timedelta = field(default_factory=timedelta)
    scheduled: timedelta = field(default_factory=timedelta)
    missing_out: int = 0
    out_without_in: int = 0
    duplicates: int = 0
    late_days: int = 0
    late_minutes: int = 0
    absent_days: int = 0


def month_totals(days: Iterable[DayReport]) -> list[MonthTotal]:
    """Per person per calendar month, over the days given (a range that starts or ends
    mid-month totals only the days inside it)."""
    totals: dict[tuple[str, int, int], MonthTotal] = {}
    # Days come by person then date: the month total of the day before is most often
    # this day's too, so the key is built and looked up only when the month changes.
    total: MonthTotal | None = None
    uid, year, month = "", 0, 0
    for d in days:
        day = d.day
        if total is None or d.person_uid != uid or day.month != month or day.year != year:
            uid, year, month = d.person_uid, day.year, day.month
            total = totals.get((uid, year, month))
            if total is None:
                total = totals[(uid, year, month)] = MonthTotal(uid, f"{year:04d}-{month:02d}")
        worked = d.worked
        if worked:
            total.days_worked += 1
            total.worked += worked
        total.scheduled += d.scheduled
        total.missing_out += d.missing_out
        total.out_without_in += d.out_without_in
        total.duplicates += d.duplicates
        if d.late_minutes:
            total.late_days += 1
            total.late_minutes += d.late_minutes
        if d.absent:
            total.absent_days += 1
    return [totals[k] for k in sorted(totals)]


@dataclass(frozen=True)
class Report:
    """A built report: the days and month totals over [first_day, last_day], with the
    names and rules they were built with (what the renderers need, and nothing read)."""

    first_day: date
    last_day: date
    rules: Rules
    generated_at: datetime
    names: dict[str, str]
    days: list[DayReport]
    months: list[MonthTotal]
