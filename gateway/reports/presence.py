"""Who must be here at an instant, and who is in.

Scheduled: people with a timetable row covering the instant (today's rows, and
yesterday's rows that cross midnight), minus rows in excluded rooms. Each is present
when their latest counted event of the current shift is a clock-in: the shift starts
at local midnight, or `EARLY_ARRIVAL` before the start of the covering row when that
is earlier (so a night shift clocked in at 21:55 is still "in" at 02:00). With the
"shift" rule (the original system's), it starts at the start of the configured shift
the instant falls in. Suppressed duplicates do not count. People who are in but are
not expected (no covering row, or only rows in excluded rooms) are listed apart as
unscheduled, so that everyone in is listed somewhere: a roll call.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from gateway.domain import Direction, Outcome
from gateway.reports.rules import EARLY_ARRIVAL, Rules, as_utc
from gateway.reports.schedule import covering, entry_interval
from gateway.store.models import StoredEvent, TimetableEntry


@dataclass(frozen=True)
class PresenceRow:
    uid: str
    name: str
    room: str
    start: time | None  # the covering row's local times; None for the unscheduled
    end: time | None
    present: bool
    last_event: str | None  # 'in' / 'out' of the shift's latest event
    last_event_at: datetime | None  # UTC
    last_event_imported: bool = False  # brought over from the original system
    corrected: bool = False  # a correction touched this person's current shift


@dataclass(frozen=True)
class WhoReport:
    at: datetime  # UTC instant asked about
    server_time: datetime  # UTC
    scheduled: list[PresenceRow]
    unscheduled_in: list[PresenceRow]

    @property
    def present(self) -> list[PresenceRow]:
        return [r for r in self.scheduled if r.present]

    @property
    def absent(self) -> list[PresenceRow]:
        return [r for r in self.scheduled if not r.present]


def shift_start(at: datetime, rules: Rules, rows_started: Iterable[datetime]) -> datetime:
    """Where a person's current shift starts: local midnight, or earlier for a row
    that began the day before. With the "shift" rule, inside a configured shift:
    that shift's start (taps of the morning do not count in the evening)."""
    local = at.astimezone(rules.zone)
    if rules.presence_rule == "shift":
        start = configured_shift_start(local, rules)
        if start is not None:
            return start
    midnight = datetime.combine(local.date(), time(0), tzinfo=rules.zone).astimezone(UTC)
    return min([midnight, *(start - EARLY_ARRIVAL for start in rows_started)])


def configured_shift_start(local: datetime, rules: Rules) -> datetime | None:
    """The UTC start of the configured shift `local` falls in, or None (between
    shifts). A shift whose end is before its start runs past midnight."""
    now = local.time().replace(tzinfo=None)
    for start, end in rules.shifts:
        day = local.date()
        if start < end:
            inside = start <= now < end
        else:
            inside = now >= start or now < end
            if now < end:
                day = day - timedelta(days=1)
        if inside:
            return datetime.combine(day, start, tzinfo=rules.zone).astimezone(UTC)
    return None


def lookback_start(at: datetime, rules: Rules, timetable: Sequence[TimetableEntry]) -> datetime:
    """The earliest instant any person's shift can start: what `who` must read from."""
    started = [start for _, start, _ in covering(timetable, as_utc(at), rules.zone)]
    return shift_start(as_utc(at), rules, started)


@dataclass(frozen=True)
class Plan:
    """What `who` derives from the timetable at an instant, before any event: who is
    expected (under which row), who is covered only by excluded rooms, and where each
    person's shift starts. It stays the same until a row starts or ends, or the
    configured shift changes (`boundaries`)."""

    at: datetime
    scheduled: dict[str, TimetableEntry]  # uid -> the row they are listed under
    excluded_only: dict[str, TimetableEntry]  # uid -> their first (excluded) row
    shift_starts: dict[str, datetime]
    default_start: datetime  # the shift start of anyone not covered

    def start_of(self, uid: str) -> datetime:
        return self.shift_starts.get(uid, self.default_start)


def plan(at: datetime, rules: Rules, timetable: Sequence[TimetableEntry]) -> Plan:
    at = as_utc(at)
    by_person: dict[str, list[tuple[TimetableEntry, datetime]]] = {}
    for entry, start, _end in covering(timetable, at, rules.zone):
        by_person.setdefault(entry.person_uid, []).append((entry, start))
    # A person with several covering rows is listed once, under the first row that
    # is not in an excluded room. One covered only by excluded rooms is not expected,
    # so never absent; but when they are in they are listed with the unscheduled, in
    # their room: `who` must serve as a roll call of everyone in the building.
    scheduled: dict[str, TimetableEntry] = {}
    excluded_only: dict[str, TimetableEntry] = {}
    for uid, rows in by_person.items():
        included = [entry for entry, _ in rows if entry.room not in rules.excluded_rooms]
        if included:
            scheduled[uid] = included[0]
        else:
            excluded_only[uid] = rows[0][0]
    return Plan(
        at=at,
        scheduled=scheduled,
        excluded_only=excluded_only,
        shift_starts={
            uid: shift_start(at, rules, [start for _, start in rows])
            for uid, rows in by_person.items()
        },
        default_start=shift_start(at, rules, []),
    )


def boundaries(at: datetime, rules: Rules, timetable: Sequence[TimetableEntry]) -> list[datetime]:
    """Instants after `at` at which `plan` may change: a row of yesterday, today or
    tomorrow starting or ending (covering is start <= at < end), a configured shift
    starting or ending, local midnight."""
    at = as_utc(at)
    today = at.astimezone(rules.zone).date()
    days = [today + timedelta(days=n) for n in (-1, 0, 1, 2)]
    found: list[datetime] = []
    for day in days[:3]:
        for entry in timetable:
            if entry.weekday == day.isoweekday():
                found.extend(entry_interval(entry, day, rules.zone))
    for day in days:
        found.append(datetime.combine(day, time(0), tzinfo=rules.zone).astimezone(UTC))
        if rules.presence_rule == "shift":
            for start, end in rules.shifts:
                for wall in (start, end):
                    found.append(datetime.combine(day, wall, tzinfo=rules.zone).astimezone(UTC))
    return [b for b in found if b > at]


def counted_latest(
    plan: Plan, events: Iterable[StoredEvent], stepped_back: Collection[str] = frozenset()
) -> dict[str, StoredEvent]:
    """Per person, the latest counted event of their current shift (`events` in
    received order): not a suppressed duplicate, not after the instant."""
    latest: dict[str, StoredEvent] = {}
    for event in events:
        moment = as_utc(event.received_at)
        if event.outcome == Outcome.DUPLICATE or moment > plan.at:
            continue
        if moment >= plan.start_of(event.person_uid):
            current = latest.get(event.person_uid)
            if current is None or _later(event, current, stepped_back):
                latest[event.person_uid] = event
    return latest


def person_row(
    uid: str,
    entry: TimetableEntry | None,
    last: StoredEvent | None,
    names: Mapping[str, str],
    corrected_uids: Collection[str],
) -> PresenceRow:
    return PresenceRow(
        uid=uid,
        name=names.get(uid, uid),
        room=entry.room if entry else "",
        start=entry.start if entry else None,
        end=entry.end if entry else None,
        present=last is not None and last.direction == Direction.IN,
        last_event=str(last.direction) if last else None,
        last_event_at=as_utc(last.received_at) if last else None,
        last_event_imported=last is not None and last.source == "import",
        corrected=uid in corrected_uids,
    )


def scheduled_key(row: PresenceRow) -> tuple[str, str, str]:
    return (row.room, row.name, row.uid)


def unscheduled_key(row: PresenceRow) -> tuple[str, str]:
    return (row.name, row.uid)


def who(
    at: datetime,
    rules: Rules,
    timetable: Sequence[TimetableEntry],
    events: Iterable[StoredEvent],
    names: Mapping[str, str],
    server_time: datetime,
    corrected_uids: Collection[str] = frozenset(),
    stepped_back: Collection[str] = frozenset(),
) -> WhoReport:
    """`events` must cover [lookback_start(...), at] in received_at order, with
    corrections applied (gateway.reports.corrections); `corrected_uids` are marked.
    `stepped_back`: gateways whose clock went back in that span (see _later)."""
    p = plan(at, rules, timetable)
    latest = counted_latest(p, events, stepped_back)
    scheduled = [
        person_row(uid, entry, latest.get(uid), names, corrected_uids)
        for uid, entry in p.scheduled.items()
    ]
    scheduled.sort(key=scheduled_key)
    unscheduled = [
        person_row(uid, p.excluded_only.get(uid), last, names, corrected_uids)
        for uid, last in sorted(latest.items())
        if uid not in p.scheduled and last.direction == Direction.IN
    ]
    unscheduled.sort(key=unscheduled_key)
    return WhoReport(
        at=p.at, server_time=as_utc(server_time), scheduled=scheduled, unscheduled_in=unscheduled
    )


def _later(event: StoredEvent, current: StoredEvent, stepped_back: Collection[str]) -> bool:
    """Whether `event`, read after `current` in received order, happened after it.
    Yes, except between two events of one gateway whose clock went back: its stamps
    then repeat an earlier span (an OUT tapped after the step can be stamped before the
    IN), while its ids still follow the order it stored them in."""
    gateway = getattr(event, "gateway_id", None)
    if gateway is None or gateway not in stepped_back:
        return True
    if gateway != getattr(current, "gateway_id", None):
        return True
    return bool(event.id > current.id)
