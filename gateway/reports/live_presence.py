"""Presence kept up to date from the change, not recomputed from the whole day.

`presence()` (service.py) reads every event of the window for each question: fine
for the CLI, but the board asks on every tap and every few seconds, and a busy day
made each answer cost more than the last (1.5 s at 32,000 events). `LivePresence`
reads the window once, keeps each person's counted punches of it in memory (events
minus suppressed duplicates and voided ones, plus the punches corrections add, in
the order `corrections.apply` gives them), and then asks the store only for the
events stored since (gateway/store/live_feed.py). Each answer then costs the people
on the board, never the day's events: `who` gets one punch per person, the latest
at or before the instant, which is the one it would have kept from the full stream
(it keeps the latest of the shift, and an earlier one is never the latest).

It starts again from the store (a full load) when:
- it is first asked, or `invalidate()` was called (the web's own writes);
- the local day changed, or the instant needs events from before the window (a
  night row started earlier, the "shift" rule between shifts);
- `signature()` changed: people, timetable, corrections or the audit log, looked at
  every CHECK_S at most (a change made by the CLI shows within that);
- FULL_EVERY_S passed since the last load: a safety net for a change the signature
  cannot see (a writer that leaves no audit row), at the cost of one load of the
  day every few minutes.
The rules come from the configuration and change only with a restart. While a
gateway's clock stepped back in the window (rare: `who` then orders that gateway's
events by id, not by stamp), the answers come from `presence()` itself.
"""

from __future__ import annotations

import bisect
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from gateway.domain import Direction, Outcome
from gateway.logs import get_logger
from gateway.reports.presence import (
    Plan,
    PresenceRow,
    WhoReport,
    boundaries,
    lookback_start,
    person_row,
    plan,
    scheduled_key,
    unscheduled_key,
)
from gateway.reports.rules import Rules, as_utc
from gateway.reports.service import presence
from gateway.store.corrections import CorrectionRow
from gateway.store.live_feed import EventFeed, LiveEvent
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores

log = get_logger("reports")

CHECK_S = 5.0  # the signature is looked at no more often than this
PLAN_MAX_S = 60.0  # the plan is rebuilt at least this often, boundaries or not
FULL_EVERY_S = 300.0  # and the day read again at least this often
# Corrections are read up to here: an added punch may lie (a little) in the future.
_FAR = datetime(9999, 1, 1, tzinfo=UTC)

# A punch's place in `corrections.apply`'s order: events by (received_at, id), then a
# correction's punch after the events of the same instant, by correction id.
Key = tuple[datetime, int, int]


@dataclass(frozen=True)
class _Punch:
    """A counted punch: an event or a correction's added punch (what `who` reads)."""

    person_uid: str
    direction: Direction
    received_at: datetime
    source: str
    outcome: Outcome = Outcome.RECORDED


class LivePresence:
    """report(at): who must be here at `at`, as service.presence would say."""

    def __init__(
        self,
        stores: Stores,
        rules: Rules,
        *,
        check_s: float = CHECK_S,
        full_every_s: float = FULL_EVERY_S,
        plan_max_s: float = PLAN_MAX_S,
    ) -> None:
        self._stores = stores
        self._rules = rules
        self._feed = EventFeed(stores.db)
        self._check_s = check_s
        self._full_every_s = full_every_s
        self._plan_max = timedelta(seconds=plan_max_s)
        self._loaded_at = 0.0
        self._loaded = False
        self._day: date | None = None
        self._since = _FAR
        self._timetable: Sequence[TimetableEntry] = ()
        self._names: dict[str, str] = {}
        self._fixes: list[CorrectionRow] = []
        self._voided: set[int] = set()
        self._stepped_back: set[str] = set()  # gateways whose clock went back in the window
        self._signature: tuple[int, ...] | None = None
        self._checked_at = 0.0
        self._keys: dict[str, list[Key]] = {}  # per person, sorted
        self._punches: dict[str, list[_Punch]] = {}  # in the same order as the keys
        self._plan: Plan | None = None
        self._plan_until = _FAR  # the plan holds for instants in [plan.at, this)
        self._corrected: frozenset[str] = frozenset()
        self._rows: dict[str, PresenceRow] = {}  # the scheduled, and the unscheduled in
        self._order: list[str] = []  # the scheduled in the board's order
        self._order_set: set[str] = set()
        self._dirty: set[str] = set()  # people whose punches came since the rows were built
        self._added: list[datetime] = []  # instants of the punches just added
        self.loads = 0  # full loads so far: for tests and the bench
        self.plans = 0  # plans built (every row built again): for tests and the bench
        self.version = 0  # moves whenever a row may have changed

    def invalidate(self) -> None:
        """Start again from the store at the next report (something not a tap changed)."""
        self._loaded = False

    async def report(self, at: datetime | None = None, *, now: datetime | None = None) -> WhoReport:
        moment = as_utc(at or datetime.now(UTC))
        if self._loaded and clock.monotonic() - self._checked_at >= self._check_s:
            await self._check()
        if not self._loaded or self._day != moment.astimezone(self._rules.zone).date():
            await self._load(moment)
        else:
            self._added.clear()
            self._add_events(await self._feed.changes())
            # Dated after this instant (a clock ahead of ours): the rows change when
            # the clock gets there.
            ahead = [t for t in self._added if t > moment]
            if ahead:
                self._plan_until = min(self._plan_until, *ahead)
        if self._stepped_back:
            return await presence(self._stores, self._rules, moment, now=now)
        current = self._plan
        if current is None or not current.at <= moment < self._plan_until:
            # Only here can the window stop covering the instant: a new plan.
            if lookback_start(moment, self._rules, self._timetable) < self._since:
                await self._load(moment)
            self._build(moment)
            self.version += 1
        elif self._dirty:
            for uid in self._dirty:
                self._build_row(current, uid, moment)
            self.version += 1
        self._dirty.clear()
        scheduled = [self._rows[uid] for uid in self._order]
        unscheduled = sorted(
            (r for uid, r in self._rows.items() if uid not in self._order_set),
            key=unscheduled_key,
        )
        return WhoReport(moment, as_utc(now or datetime.now(UTC)), scheduled, unscheduled)

    async def _check(self) -> None:
        signature = await self._feed.signature()
        self._checked_at = clock.monotonic()
        if signature != self._signature or self._checked_at - self._loaded_at >= self._full_every_s:
            self._loaded = False

    async def _load(self, moment: datetime) -> None:
        stores, rules = self._stores, self._rules
        # The signature first: a change landing during the load makes the next check
        # load again rather than be taken for part of this one.
        self._signature = await self._feed.signature()
        self._checked_at = self._loaded_at = clock.monotonic()
        self._timetable = await stores.timetable.timetable()
        self._names = {p.uid: p.name for p in await stores.people.people()}
        day = moment.astimezone(rules.zone).date()
        midnight = datetime.combine(day, time(0), tzinfo=rules.zone).astimezone(UTC)
        # From the earliest any shift of the day can start: the "shift" rule's
        # current shift may start after midnight, and between shifts midnight counts.
        self._since = min(lookback_start(moment, rules, self._timetable), midnight)
        self._day = day
        # Only corrections in force (made before agreements existed, or agreed to): a
        # proposal waiting for the other side changes nothing yet (corrections.apply).
        self._fixes = [
            c for c in await stores.corrections.affecting(self._since, _FAR) if c.in_force
        ]
        self._stepped_back = await stores.clock_steps.stepped_back(self._since, _FAR)
        self._voided = {c.event_id for c in self._fixes if c.kind == "void" and c.event_id}
        self._keys, self._punches = {}, {}
        self._plan = None
        for fix in self._fixes:
            if fix.kind == "add":
                at = as_utc(fix.at)
                punch = _Punch(fix.person_uid, Direction(fix.direction), at, "correction")
                self._insert((at, 1, fix.id), punch)
        self._add_events(await self._feed.load(self._since))
        self._added.clear()  # the new plan looks at every punch
        self._loaded = True
        self.loads += 1
        log.debug("live_presence_loaded", since=str(self._since), people=len(self._keys))

    def _add_events(self, events: Sequence[LiveEvent]) -> None:
        for e in events:
            if e.outcome == Outcome.DUPLICATE or e.id in self._voided:
                continue
            at = as_utc(e.received_at)
            if at < self._since:
                continue  # an import's old tap: outside the window
            self._insert((at, 0, e.id), _Punch(e.person_uid, e.direction, at, e.source))

    def _insert(self, key: Key, punch: _Punch) -> None:
        self._dirty.add(punch.person_uid)
        self._added.append(punch.received_at)
        keys = self._keys.setdefault(punch.person_uid, [])
        punches = self._punches.setdefault(punch.person_uid, [])
        if not keys or key > keys[-1]:  # the usual case: the newest punch
            keys.append(key)
            punches.append(punch)
            return
        i = bisect.bisect_left(keys, key)
        keys.insert(i, key)
        punches.insert(i, punch)

    def _build(self, moment: datetime) -> None:
        """Every row, from a new plan (a boundary passed, a load, time went back)."""
        rules = self._rules
        current = self._plan = plan(moment, rules, self._timetable)
        since = lookback_start(moment, rules, self._timetable)
        until = moment + timedelta(microseconds=1)
        self._corrected = frozenset(
            c.person_uid for c in self._fixes if since <= as_utc(c.at) < until
        )
        # The rows also change when the clock reaches an added punch or a tap dated
        # ahead of it: each person's first punch after the instant.
        ahead = [as_utc(c.at) for c in self._fixes if as_utc(c.at) >= until]
        for punches in self._punches.values():
            if punches[-1].received_at > moment:
                ahead.append(_first_after(punches, moment))
        self._plan_until = min(
            [*boundaries(moment, rules, self._timetable), *ahead, moment + self._plan_max],
        )
        self._rows = {}
        for uid in current.scheduled.keys() | self._punches.keys():
            self._build_row(current, uid, moment)
        self._order = sorted(current.scheduled, key=lambda uid: scheduled_key(self._rows[uid]))
        self._order_set = set(self._order)
        self.plans += 1

    def _build_row(self, current: Plan, uid: str, moment: datetime) -> None:
        last = None
        for punch in reversed(self._punches.get(uid, ())):  # the latest at or before
            if punch.received_at <= moment:
                if punch.received_at >= current.start_of(uid):
                    last = punch
                break
        entry = current.scheduled.get(uid)
        if entry is None and (last is None or last.direction != Direction.IN):
            self._rows.pop(uid, None)  # not expected, not in: not on the board
            return
        if entry is None:
            entry = current.excluded_only.get(uid)
        # A punch reads like the stored event person_row takes.
        self._rows[uid] = person_row(uid, entry, cast(Any, last), self._names, self._corrected)


def _first_after(punches: Sequence[_Punch], moment: datetime) -> datetime:
    """The first punch's instant after `moment` (punches sorted, the last one after)."""
    i = bisect.bisect_right([p.received_at for p in punches], moment)
    return punches[i].received_at
