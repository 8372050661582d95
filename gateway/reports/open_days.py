"""The forgotten clock-out (issue 22 item 4): open days found, never closed.

A shift ends where the timetable says (its last block of the day, night shifts on the
next morning). `after` ([register] open_day_after) past that end, a person whose last
punch of the shift is an in, with no out after it, has an open day: unless the next
thing they did was to clock out late (an out before their next shift), which is only
a long day. The in belongs to the shift when it is on the shift's day (or at most
two hours before its start, for a night shift starting at midnight) and after the
previous shift's end.

What to propose as the close: an out at the shift's end, when the in came before it.
It is only a proposal (a company-side correction waiting for the worker,
gateway/store/open_days.py); nothing is closed here, and a day with no timetable is
not judged at all (no end to measure `after` from; the reports still flag it as
missing-out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gateway.domain import Direction, Outcome
from gateway.reports import corrections
from gateway.reports.rules import EARLY_ARRIVAL, Rules, as_utc
from gateway.reports.schedule import Block, blocks_for_day
from gateway.reports.service import local_midnight
from gateway.store.models import SwipeFacts, TimetableEntry
from gateway.store.stores import Stores

_IN = Direction.IN.value
_OUT = Direction.OUT.value
_DUPLICATE = Outcome.DUPLICATE.value


@dataclass(frozen=True)
class OpenDay:
    person_uid: str
    day: date  # the local day the shift started on
    in_at: datetime  # the clock-in with no clock-out (UTC)
    shift_end: datetime  # where the timetable ends that shift (UTC)
    proposed_out: datetime | None  # the close to propose, or None (the in came after)


def _value(direction: object) -> str:
    return str(getattr(direction, "value", direction))


def _shifts(
    entries: Sequence[TimetableEntry], first: date, last: date, rules: Rules
) -> list[Block]:
    """Each day's whole shift: its first block's start to its last block's end."""
    shifts = []
    day = first
    while day <= last:
        blocks = blocks_for_day(entries, day, rules.zone)
        if blocks:
            shifts.append(Block(day, blocks[0].start, blocks[-1].end, blocks[0].rooms))
        day += timedelta(days=1)
    return shifts


def find_open_days(
    punches: Sequence[SwipeFacts],
    entries: Sequence[TimetableEntry],
    rules: Rules,
    *,
    now: datetime,
    after: timedelta,
    first_day: date,
) -> list[OpenDay]:
    """One person's open days among the shifts from `first_day` on that ended `after`
    before `now`. `punches`: that person's punches in received order (corrections in
    force applied), from well before the first shift to `now`."""
    found = []
    kept = [p for p in punches if _value(p.outcome) != _DUPLICATE]
    last_day = (now - after).astimezone(rules.zone).date()
    shifts = _shifts(entries, first_day, last_day, rules)
    for i, shift in enumerate(shifts):
        cut = shift.end + after
        if cut > now:
            continue
        window_start = shift.start - rules.max_session
        before = [p for p in kept if window_start <= as_utc(p.received_at) <= cut]
        if not before or _value(before[-1].direction) != _IN:
            continue
        in_at = as_utc(before[-1].received_at)
        if i > 0 and in_at <= shifts[i - 1].end:
            continue  # the previous shift's in: judged (and flagged) with that shift
        if in_at.astimezone(rules.zone).date() != shift.day and in_at < shift.start - EARLY_ARRIVAL:
            continue  # an in of an earlier day without a shift: not this shift's
        next_start = shifts[i + 1].start if i + 1 < len(shifts) else None
        later = [
            p
            for p in kept
            if as_utc(p.received_at) > cut
            and (next_start is None or as_utc(p.received_at) < next_start)
        ]
        if later and _value(later[0].direction) == _OUT:
            continue  # a long day, closed late by the worker
        found.append(
            OpenDay(
                before[-1].person_uid,
                shift.day,
                in_at,
                shift.end,
                shift.end if in_at < shift.end else None,
            )
        )
    return found


async def open_days(
    stores: Stores,
    rules: Rules,
    *,
    now: datetime,
    after: timedelta,
    days: int,
) -> list[OpenDay]:
    """Everyone's open days over the shifts of the last `days` local days."""
    first_day = (now - after).astimezone(rules.zone).date() - timedelta(days=max(0, days - 1))
    start = local_midnight(first_day, rules) - rules.max_session
    timetable: dict[str, list[TimetableEntry]] = {}
    for entry in await stores.timetable.timetable():
        timetable.setdefault(entry.person_uid, []).append(entry)
    active = {p.uid for p in await stores.people.people() if p.active}
    fixes = await stores.corrections.affecting(start, now + timedelta(minutes=1))
    by_person: dict[str, list[SwipeFacts]] = {}
    events = stores.events.events_between(start, now + timedelta(minutes=1))
    async for event in corrections.apply_async(events, fixes):
        by_person.setdefault(event.person_uid, []).append(event)
    found: list[OpenDay] = []
    for uid in sorted(set(timetable) & active):
        found += find_open_days(
            by_person.get(uid, []), timetable[uid], rules, now=now, after=after, first_day=first_day
        )
    return found
