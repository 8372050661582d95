"""The reports fed from the database: the only I/O in this package.

Events stream (EventStore.swipes_between, or EventStore.events_between) into the
pure builders, which keep per-day state only, so a year of a lab never sits in memory
as events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from gateway.errors import InvalidInputError, NotFoundError
from gateway.logs import get_logger
from gateway.reports import corrections
from gateway.reports.presence import WhoReport, lookback_start, who
from gateway.reports.rules import Rules
from gateway.reports.sessions import Report, ReportBuilder, month_totals
from gateway.store.events import SWIPE_COLUMNS, SwipeRow
from gateway.store.models import StoredEvent, SwipeFacts, TimetableEntry
from gateway.store.stores import Stores

log = get_logger("reports")


EXPORT_CHUNK = 1000
DEFAULT_SETTLE = timedelta(seconds=5)

# Where a report reads its events: (start, end, uid) -> events in received_at order.
# EventStore.swipes_between (lean, what the CLI uses) and EventStore.events_between fit.
EventSource = Callable[[datetime, datetime, str | None], AsyncIterator[SwipeFacts]]


def local_midnight(day: date, rules: Rules) -> datetime:
    return datetime.combine(day, time(0), tzinfo=rules.zone).astimezone(UTC)


async def _names(stores: Stores, uid: str | None = None) -> dict[str, str]:
    """Everyone's names, or one person's (a person's page: not 2,000 rows each time)."""
    if uid is not None:
        return await stores.people.names([uid])
    return {p.uid: p.name for p in await stores.people.people()}


async def build_report(
    stores: Stores,
    rules: Rules,
    first_day: date,
    last_day: date,
    *,
    uid: str | None = None,
    now: datetime | None = None,
    source: EventSource | None = None,
    gateway: str | None = None,
    uids: Collection[str] | None = None,
) -> Report:
    """Per person per local day over [first_day, last_day], and month totals.

    `uids` (without `uid`) limits it to those people, a page of a list: the month is
    still read whole (one cheap query), but only their days are built, which is
    where a school's month for everyone spends its second.

    Events are read from `max_session` before the first day (to close a night shift
    that began the day before, so its clock-out is not mistaken for a stray one) to
    `max_session` after the last day (to close the last day's night shifts).
    """
    if last_day < first_day:
        raise InvalidInputError(f"--to {last_day} is before --from {first_day}")
    now = now or datetime.now(UTC)
    wanted = None if uids is None or uid is not None else frozenset(uids)
    names = await _names(stores, uid) if wanted is None else await stores.people.names(list(wanted))
    if uid is not None and uid not in names:
        raise NotFoundError(f"no person with uid {uid!r}")
    span = (min(wanted), max(wanted)) if wanted else None
    entries = await stores.timetable.timetable(uid=uid, uid_range=span)
    if wanted is not None:
        entries = [e for e in entries if e.person_uid in wanted]
    timetable: dict[str, list[TimetableEntry]] = {}
    for entry in entries:
        timetable.setdefault(entry.person_uid, []).append(entry)
    start = local_midnight(first_day, rules) - rules.max_session
    end = local_midnight(last_day + timedelta(days=1), rules) + rules.max_session
    fixes = await stores.corrections.affecting(start, end, uid)
    if wanted is not None:
        fixes = [f for f in fixes if f.person_uid in wanted]
    builder = ReportBuilder(
        rules, first_day, last_day, timetable, corrections.corrected_days(fixes, rules.zone)
    )
    if source is not None:
        events = source(start, end, uid)
    elif fixes:
        # A void names its event by id, which only events_between's rows carry: the
        # lean stream serves the (usual) ranges without corrections.
        events = stores.events.events_between(start, end, uid, gateway=gateway)
    else:
        events = stores.events.swipes_between(start, end, uid, gateway=gateway, uid_range=span)
    # With no corrections apply_async passes every event through unchanged: skip its
    # generator layer, one async hop per event of a year's report.
    stream = corrections.apply_async(events, fixes) if fixes else events
    count = await _feed(builder, stream, wanted)
    days = list(builder.days(now, [uid] if uid is not None else wanted))
    stepped = await _stepped_days(stores, rules, start, end, gateway)
    if stepped:
        days = [replace(d, clock_step=True) if d.day in stepped else d for d in days]
    log.debug(
        "report_built", events=count, days=len(days), first=str(first_day), last=str(last_day)
    )
    return Report(first_day, last_day, rules, now, names, days, month_totals(days))


async def _feed(
    builder: ReportBuilder, events: AsyncIterator[SwipeFacts], wanted: frozenset[str] | None
) -> int:
    """Every event into the builder (only `wanted` people's, when given); how many.

    The lean stream's rows (EventStore.swipes_between) are unpacked by position: a
    Row answers an attribute through a Python-level __getattr__, five per event, most
    of what the builder cost per event. Other events (StoredEvent, a correction's
    punch) go through `add` by name. The columns are checked once per result.
    """
    add, add_swipe = builder.add, builder.add_swipe
    lean: object = None  # the metadata of a result known to have SWIPE_COLUMNS
    count = 0
    async for event in events:
        if type(event) is SwipeRow:
            parent = event._parent
            if parent is not lean and event._fields == SWIPE_COLUMNS:
                lean = parent
            if parent is lean:
                _id, uid, direction, moment, outcome, origin = event
                if wanted is None or uid in wanted:
                    add_swipe(uid, direction, outcome, moment, origin == "import")
                    count += 1
                continue
        if wanted is None or event.person_uid in wanted:
            add(event)
            count += 1
    return count


async def _stepped_days(
    stores: Stores, rules: Rules, start: datetime, end: datetime, gateway: str | None
) -> set[date]:
    """Local days a wall-clock step touched: the day it was noticed, and the days of
    the wall times it skipped or repeated (a step back by an hour at 00:30 repeats
    23:30-00:30 of the day before)."""
    days: set[date] = set()
    for detected_at, step_s in await stores.clock_steps.between(start, end, gateway=gateway):
        before = detected_at - timedelta(seconds=step_s)
        for moment in (detected_at, before):
            days.add(moment.astimezone(rules.zone).date())
    return days


async def presence(
    stores: Stores,
    rules: Rules,
    at: datetime,
    *,
    now: datetime | None = None,
    gateway: str | None = None,
) -> WhoReport:
    """Who must be here at `at`, present or absent, and who is in unscheduled (by the
    events of one gateway only, with `gateway`: who is in that building)."""
    timetable = await stores.timetable.timetable()
    names = await _names(stores)
    since = lookback_start(at, rules, timetable)
    until = at + timedelta(microseconds=1)
    events = [e async for e in stores.events.events_between(since, until, gateway=gateway)]
    fixes = await stores.corrections.affecting(since, until)
    return who(
        at,
        rules,
        timetable,
        list(corrections.apply(events, fixes)),
        names,
        now or datetime.now(UTC),
        corrected_uids={c.person_uid for c in corrections.in_force(fixes)},
        stepped_back=await stores.clock_steps.stepped_back(since, until),
    )


async def export_events(
    stores: Stores,
    since_id: int,
    limit: int | None = None,
    *,
    settle: timedelta = DEFAULT_SETTLE,
    gateway: str | None = None,
) -> AsyncIterator[StoredEvent]:
    """Events with id > since_id in id order, at most `limit`, fetched in chunks.

    Why `settle`: on PostgreSQL an id is taken when a transaction inserts, not when it
    commits, so two swipes committing out of order could let an export see id 11
    before id 10 is visible and move the cursor past 10 for good. The export stops at
    the first event stored less than `settle` ago (by the database's clock; swipe
    transactions last well under a second), so the cursor never passes an id that
    might still appear. Those events come with the next run.
    """
    cutoff = await stores.events.database_now() - settle if settle > timedelta(0) else None
    after = since_id
    left = limit
    while left is None or left > 0:
        chunk = EXPORT_CHUNK if left is None else min(EXPORT_CHUNK, left)
        events = await stores.events.events_since(after, chunk, gateway=gateway)
        for event in events:
            if cutoff is not None and event.stored_at > cutoff:
                return
            yield event
        if len(events) < chunk:
            return
        after = events[-1].id
        if left is not None:
            left -= len(events)
