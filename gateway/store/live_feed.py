"""The clock events stored since the last look, for the live board: an id cursor that
never skips a row committed late.

The board keeps the day in memory (gateway/reports/live_presence.py) and asks only
for what is new. New means an id above `settled`, the id at or below which no row can
appear any more, and not yet returned:

- SQLite has one writer at a time, and a row's id is taken inside its write
  transaction, so rows commit in id order: the highest id read is settled at once.
- PostgreSQL takes an id when a transaction inserts, not when it commits: two swipe
  lanes, a spool replay or an import may commit out of order, so id 11 can be visible
  before id 10. The highest id read in one round is settled only once every
  transaction running at the next round has ended (its snapshot's xmin passed that
  round's xmax), the rule gateway/store/seals.py uses. Until then the rows above
  `settled` are read again and the ones already returned are skipped by id: a few
  rows normally, more while a long writing transaction (a big import) is open.

`signature()` is the cheap question "did anything but clock events change?": the
people (their count), the timetable, the corrections and the clock steps (count and
highest id), and
the audit log's highest id. Every change of a person or card writes its audit row in
the same transaction (a rename changes no count), and the timetable's writers record
one after replacing it (`timetable import`): on SQLite a timetable replaced whole by
one of the same size gets the same ids back, so the audit row is what tells. Counts
go with the highest ids because on PostgreSQL a late commit below the highest id
changes only the count. What this cannot see, a full reload every few minutes
catches (gateway/reports/live_presence.py).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import Direction, Outcome
from gateway.store.database import Database
from gateway.store.tables import (
    audit_log,
    clock_events,
    clock_steps,
    corrections,
    people,
    timetable,
)


@dataclass(frozen=True)
class LiveEvent:
    """What presence needs of a stored clock event."""

    id: int
    person_uid: str
    direction: Direction
    received_at: datetime
    outcome: Outcome
    source: str


_SNAPSHOT = text(
    "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
    "FROM pg_current_snapshot() AS s"
)


class EventFeed:
    """load (everything received since an instant) and changes (only what is new)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._settled = 0  # no row can appear at or below this id any more
        self._returned: set[int] = set()  # ids above _settled already returned
        self._last_max: int | None = None  # PostgreSQL: the highest id of the last round
        self._waiting: deque[tuple[int, int]] = deque()  # (xid that must end, id)
        self._since: datetime | None = None  # the window load() was asked for

    @property
    def settled(self) -> int:
        return self._settled

    async def load(self, since: datetime) -> list[LiveEvent]:
        """Every event received at or after `since`, in (received_at, id) order; the
        cursor then stands after them."""
        ev = clock_events.c
        query = (
            select(ev.id, ev.person_uid, ev.direction, ev.received_at, ev.outcome, ev.source)
            .where(ev.received_at >= since)
            .order_by(ev.received_at, ev.id)
        )
        async with self._db.tx() as conn:
            snapshot = await self._snapshot(conn)
            rows = (await conn.execute(query)).all()
            # The table's highest id, not the window's: an import's old taps sit above.
            top = int(await conn.scalar(select(func.coalesce(func.max(ev.id), 0))) or 0)
        events = [_event(r) for r in rows]
        self._since = since
        if self._db.dialect == "postgresql":
            self._returned |= {e.id for e in events if e.id > self._settled}
            self._round(snapshot, top)
        else:
            self._settled = max(self._settled, top)
            self._returned.clear()
        return events

    async def changes(self) -> list[LiveEvent]:
        """Events never returned before, in id order. On SQLite whatever their
        received_at (each row is read once); on PostgreSQL only those received since
        load's instant, because the rows above `settled` may be read more than once
        (and before the first round settles anything, that is the whole table)."""
        ev = clock_events.c
        query = (
            select(ev.id, ev.person_uid, ev.direction, ev.received_at, ev.outcome, ev.source)
            .where(ev.id > self._settled)
            .order_by(ev.id)
        )
        if self._db.dialect == "postgresql" and self._since is not None:
            query = query.where(ev.received_at >= self._since)
        async with self._db.tx() as conn:
            snapshot = await self._snapshot(conn)
            rows = (await conn.execute(query)).all()
        fresh = [_event(r) for r in rows if r.id not in self._returned]
        top = max((int(r.id) for r in rows), default=self._settled)
        if self._db.dialect == "postgresql":
            self._returned |= {e.id for e in fresh}
            self._round(snapshot, max(top, self._last_max or 0))
        else:
            self._settled = top
        return fresh

    async def signature(self) -> tuple[int, ...]:
        """Counts and highest ids of what presence reads besides the events."""

        def both(table: Table) -> list[Any]:
            return [
                select(func.count()).select_from(table).scalar_subquery(),
                select(func.coalesce(func.max(table.c.id), 0)).scalar_subquery(),
            ]

        # people has no id: its count, and the audit row of every change to one.
        parts = [select(func.count()).select_from(people).scalar_subquery()]
        parts += [*both(timetable), *both(corrections), *both(clock_steps)]
        parts.append(select(func.coalesce(func.max(audit_log.c.id), 0)).scalar_subquery())
        async with self._db.tx() as conn:
            row = (await conn.execute(select(*parts))).one()
        return tuple(int(v) for v in row)

    async def _snapshot(self, conn: AsyncConnection) -> tuple[int, int] | None:
        if self._db.dialect != "postgresql":
            return None
        found = (await conn.execute(_SNAPSHOT)).one()
        return int(found[0]), int(found[1])

    def _round(self, snapshot: tuple[int, int] | None, top: int) -> None:
        """PostgreSQL: move `settled` past the ids no transaction can still commit."""
        assert snapshot is not None
        xmin, xmax = snapshot
        # A transaction that took an id below last round's highest did so before that
        # round's read, so it has its xid by this round's snapshot (xid < xmax).
        if self._last_max is not None:
            self._waiting.append((xmax, self._last_max))
        self._last_max = top
        while self._waiting and self._waiting[0][0] <= xmin:
            self._settled = max(self._settled, self._waiting.popleft()[1])
        if self._returned:
            self._returned = {i for i in self._returned if i > self._settled}


def _event(row: object) -> LiveEvent:
    r = row._mapping  # type: ignore[attr-defined]
    return LiveEvent(
        id=int(r["id"]),
        person_uid=r["person_uid"],
        direction=Direction(r["direction"]),
        received_at=r["received_at"],
        outcome=Outcome(r["outcome"]),
        source=r["source"],
    )
