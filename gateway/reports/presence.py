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
from gateway.reports.schedule import covering
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
    at = as_utc(at)
    by_person: dict[str, list[tuple[TimetableEntry, datetime]]] = {}
    for entry, start, _end in covering(timetable, at, rules.zone):
        by_person.setdefault(entry.person_uid, []).append((entry, start))
    shift_starts = {
        uid: shift_start(at, rules, [start for _, start in rows]) for uid, rows in by_person.items()
    }
    default_start = shift_start(at, rules, [])

    latest: dict[str, StoredEvent] = {}
    for event in events:
        moment = as_utc(event.received_at)
        if event.outcome == Outcome.DUPLICATE or moment > at:
            continue
        if moment >= shift_starts.get(event.person_uid, default_start):
            current = latest.get(event.person_uid)
            if current is None or _later(event, current, stepped_back):
                latest[event.person_uid] = event

    def row(uid: str, entry: TimetableEntry | None) -> PresenceRow:
        last = latest.get(uid)
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

    # A person with several covering rows is listed once, under the first row that
    # is not in an excluded room. One covered only by excluded rooms is not expected,
    # so never absent; but when they are in they are listed with the unscheduled, in
    # their room: `who` must serve as a roll call of everyone in the building.
    scheduled = []
    excluded_only: dict[str, TimetableEntry] = {}
    for uid, rows in by_person.items():
        included = [entry for entry, _ in rows if entry.room not in rules.excluded_rooms]
        if included:
            scheduled.append(row(uid, included[0]))
        else:
            excluded_only[uid] = rows[0][0]
    scheduled.sort(key=lambda r: (r.room, r.name, r.uid))
    unscheduled = [
        row(uid, excluded_only.get(uid))
        for uid, last in sorted(latest.items())
        if (uid not in by_person or uid in excluded_only) and last.direction == Direction.IN
    ]
    unscheduled.sort(key=lambda r: (r.name, r.uid))
    return WhoReport(
        at=at, server_time=as_utc(server_time), scheduled=scheduled, unscheduled_in=unscheduled
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
