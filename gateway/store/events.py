"""Reading the stored clock events: the export cursor and the reports' streams.

Writing events is the swipe path's (swipes.py); nothing here writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, type_coerce
from sqlalchemy.engine import Row

from gateway.domain import Direction, Outcome
from gateway.errors import DatabaseUnavailableError
from gateway.store import validate
from gateway.store.database import Database
from gateway.store.models import StoredEvent, SwipeFacts
from gateway.store.tables import UtcDateTime, clock_events

# Rows per round trip when streaming events for reports.
_STREAM_CHUNK = 1000
# The type and columns of swipes_between's rows, in order: build_report unpacks them
# by position (an attribute of a Row costs a Python-level lookup).
SwipeRow = Row
SWIPE_COLUMNS = ("id", "person_uid", "direction", "received_at", "outcome", "source")
# Rows per batch of the single streamed SELECT behind swipes_between.
_REPORT_BATCH = 5000


class EventStore:
    """last_event, events_since, events_between, swipes_between, database_now."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def last_event(self, uid: str) -> StoredEvent | None:
        """The person's latest event by received time (whatever its outcome)."""
        query = (
            select(clock_events)
            .where(clock_events.c.person_uid == uid)
            .order_by(clock_events.c.received_at.desc(), clock_events.c.id.desc())
            .limit(1)
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _stored_event(row)

    async def events_since(
        self, after_id: int, limit: int = 1000, *, gateway: str | None = None
    ) -> list[StoredEvent]:
        """Events with id > after_id in id order: an export cursor (of one gateway's
        events only, with `gateway`)."""
        query = select(clock_events).where(clock_events.c.id > after_id)
        if gateway is not None:
            query = query.where(clock_events.c.gateway_id == gateway)
        query = query.order_by(clock_events.c.id).limit(max(0, limit))
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_stored_event(r) for r in rows]

    async def events_between(
        self, start: datetime, end: datetime, uid: str | None = None, *, gateway: str | None = None
    ) -> AsyncIterator[StoredEvent]:
        """Events received in [start, end), in received order, streamed in chunks.

        Chunks are read by keyset (received_at, id), each in its own short
        transaction, so a slow consumer holds no connection and no snapshot.
        """
        validate.aware(start, "start")
        validate.aware(end, "end")
        ev = clock_events.c
        after: tuple[datetime, int] | None = None
        while True:
            query = select(clock_events).where(ev.received_at >= start, ev.received_at < end)
            if uid is not None:
                query = query.where(ev.person_uid == uid)
            if gateway is not None:
                query = query.where(ev.gateway_id == gateway)
            if after is not None:
                query = query.where(
                    or_(
                        ev.received_at > after[0],
                        and_(ev.received_at == after[0], ev.id > after[1]),
                    )
                )
            query = query.order_by(ev.received_at, ev.id).limit(_STREAM_CHUNK)
            async with self._db.tx() as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                yield _stored_event(row)
            if len(rows) < _STREAM_CHUNK:
                return
            after = (rows[-1].received_at, rows[-1].id)

    async def swipes_between(
        self,
        start: datetime,
        end: datetime,
        uid: str | None = None,
        *,
        gateway: str | None = None,
        uid_range: tuple[str, str] | None = None,
    ) -> AsyncIterator[SwipeFacts]:
        """The columns reports need, for events received in [start, end).

        Unlike events_between this is one streamed SELECT (a server-side cursor on
        PostgreSQL; SQLite steps its cursor) yielding rows as they are: a report
        consumes them at once, and a year of a lab would otherwise spend seconds
        building StoredEvent objects and re-querying per chunk. It holds one
        snapshot for the few seconds of a report; on SQLite's WAL that never blocks
        the daemon's writes. `uid_range` (first, last, both included) keeps a page
        of a list's people: converting a school's month for everyone was most of it.
        """
        validate.aware(start, "start")
        validate.aware(end, "end")
        ev = clock_events.c
        query = (
            # id too: corrections.apply_async asks every event for it, and a Row
            # without the column answers through SQLAlchemy's slow missing-key path
            # (an exception per event: a third of a year's report, profiled).
            select(ev.id, ev.person_uid, ev.direction, ev.received_at, ev.outcome, ev.source)
            .where(ev.received_at >= start, ev.received_at < end)
            .order_by(ev.received_at, ev.id)
        )
        if uid is not None:
            query = query.where(ev.person_uid == uid)
        if uid_range is not None:
            # The range's ends are Python's min and max (code point order): compare in
            # that order, not PostgreSQL's default collation, or a page's uid between
            # them ('a.b' against 'ab') could be left out. A filter, not an index key.
            person: ColumnElement[Any] = ev.person_uid
            if self._db.dialect == "postgresql":
                person = ev.person_uid.collate("C")
            query = query.where(person >= uid_range[0], person <= uid_range[1])
        if gateway is not None:
            query = query.where(ev.gateway_id == gateway)
        async with self._db.tx() as conn:
            result = await conn.stream(query.execution_options(yield_per=_REPORT_BATCH))
            async for batch in result.partitions():
                for row in batch:
                    yield row  # a Row already has the attributes: no copy per event

    async def database_now(self) -> datetime:
        """The database server's clock (what stamps stored_at), in UTC."""
        async with self._db.tx() as conn:
            now = await conn.scalar(select(type_coerce(func.now(), UtcDateTime)))
        if not isinstance(now, datetime):
            raise DatabaseUnavailableError(f"database {self._db.url} gave no current time")
        return now


def _stored_event(row: Row[Any]) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        event_key=row.event_key,
        person_uid=row.person_uid,
        card_key=row.card_key,
        direction=Direction(row.direction),
        reader=row.reader,
        reader_hw_id=row.reader_hw_id,
        received_at=row.received_at,
        stored_at=row.stored_at,
        outcome=Outcome(row.outcome),
        gateway_id=row.gateway_id,
        source=row.source,
    )
