"""Read-only queries for reports that the repository does not offer.

`Repository.events_between` returns whole StoredEvent rows in keyset chunks, each in
its own short transaction: right for a consumer that may be slow, but a year of a
lab costs several seconds just in building those objects. A report needs four
columns and consumes them at once, so it reads them here with one streamed SELECT
(a server-side cursor on PostgreSQL; SQLite steps its cursor), yielding fixed-size
batches, so memory stays flat whatever the range. The read holds one snapshot for
the few seconds of a report; on SQLite's WAL that never blocks the daemon's writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, make_url, select, type_coerce
from sqlalchemy.exc import SQLAlchemyError

from gateway.domain import Direction, Outcome
from gateway.errors import DatabaseUnavailableError
from gateway.store import failures
from gateway.store.engine import create_engine, normalise_url
from gateway.store.models import StoredEvent
from gateway.store.tables import UtcDateTime, clock_events

BATCH = 5000


class Swipe(Protocol):
    """What the report rules read from an event (StoredEvent has it too)."""

    @property
    def person_uid(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def outcome(self) -> str: ...


class ReportReader:
    """A small read-only engine of its own, so the repository stays untouched."""

    def __init__(self, url: str) -> None:
        self._where = make_url(url).render_as_string(hide_password=True)
        self._engine = create_engine(normalise_url(url), connect_timeout=5.0, pool_size=1)

    async def close(self) -> None:
        await self._engine.dispose()

    async def swipes_between(
        self, start: datetime, end: datetime, uid: str | None = None
    ) -> AsyncIterator[Swipe]:
        """Events received in [start, end) in (received_at, id) order: the columns the
        rules need, as rows with attribute access."""
        ev = clock_events.c
        query = (
            select(ev.person_uid, ev.direction, ev.received_at, ev.outcome)
            .where(ev.received_at >= start, ev.received_at < end)
            .order_by(ev.received_at, ev.id)
        )
        if uid is not None:
            query = query.where(ev.person_uid == uid)
        try:
            async with self._engine.connect() as conn:
                result = await conn.stream(query.execution_options(yield_per=BATCH))
                async for batch in result.partitions():
                    for row in batch:
                        yield _as_swipe(row)
        except (SQLAlchemyError, OSError) as exc:
            raise failures.unavailable(exc, self._where) from None

    async def database_now(self) -> datetime:
        """The database server's clock (what stamps stored_at), in UTC."""
        try:
            async with self._engine.connect() as conn:
                now = await conn.scalar(select(type_coerce(func.now(), UtcDateTime)))
        except (SQLAlchemyError, OSError) as exc:
            raise failures.unavailable(exc, self._where) from None
        if not isinstance(now, datetime):
            raise DatabaseUnavailableError(f"database {self._where} gave no current time")
        return now

    async def events_after(self, after_id: int, limit: int) -> list[StoredEvent]:
        """Events with id > after_id in id order (whole rows, for export)."""
        query = (
            select(clock_events)
            .where(clock_events.c.id > after_id)
            .order_by(clock_events.c.id)
            .limit(max(0, limit))
        )
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        except (SQLAlchemyError, OSError) as exc:
            raise failures.unavailable(exc, self._where) from None
        return [
            StoredEvent(
                id=r.id,
                event_key=r.event_key,
                person_uid=r.person_uid,
                card_key=r.card_key,
                direction=Direction(r.direction),
                reader=r.reader,
                reader_hw_id=r.reader_hw_id,
                received_at=r.received_at,
                stored_at=r.stored_at,
                outcome=Outcome(r.outcome),
            )
            for r in rows
        ]


def _as_swipe(row: Any) -> Swipe:
    # A Row has the four attributes already: no copy per event.
    swipe: Swipe = row
    return swipe
