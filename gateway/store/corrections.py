"""Corrections: missed clock-ins/outs added and mistaken taps voided, each a record of
its own (who, when, why, what it changes). Raw events are never edited.

Reports, `who` and the board read them next to the events (gateway.reports.corrections).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import Direction
from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store import validate
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.tables import clock_events, corrections, people

MAX_REASON = 500
# A correction may not add a punch further in the future than this (clock skew).
_FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class CorrectionRow:
    id: int
    person_uid: str
    kind: str  # 'add' or 'void'
    direction: str  # add: the punch added; void: the voided event's
    at: datetime  # add: when the missed punch happened; void: the voided event's time
    event_id: int | None  # void: the event voided
    reason: str
    created_by: str
    created_at: datetime


def _reason(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise InvalidInputError("a correction needs a reason")
    if len(text) > MAX_REASON:
        raise InvalidInputError(f"the reason is too long (at most {MAX_REASON} characters)")
    return text


class CorrectionStore:
    """add_missing, void, recent, affecting."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_missing(
        self, uid: str, direction: str, at: datetime, reason: str, actor: Actor
    ) -> int:
        """Record a missed clock-in or clock-out of `uid` at `at`."""
        uid = validate.uid(uid)
        try:
            punch = Direction(direction)
        except ValueError:
            raise InvalidInputError(f"direction must be 'in' or 'out', got {direction!r}") from None
        at = validate.aware(at, "at").astimezone(UTC)
        if at > datetime.now(UTC) + _FUTURE_SLACK:
            raise InvalidInputError("a missed punch cannot be in the future")
        why = _reason(reason)
        async with self._db.tx(write=True) as conn:
            await _person(conn, uid)
            new_id = (
                await conn.execute(
                    insert(corrections)
                    .values(
                        person_uid=uid,
                        kind="add",
                        direction=punch.value,
                        at=at,
                        reason=why,
                        created_by=actor.name,
                    )
                    .returning(corrections.c.id)
                )
            ).scalar_one()
            await write_audit(
                conn,
                actor,
                "correction.add",
                uid,
                {"id": new_id, "direction": punch.value, "at": at.isoformat(), "reason": why},
            )
        return int(new_id)

    async def void(self, event_id: int, reason: str, actor: Actor) -> int:
        """Void a mistaken event: reports and presence no longer count it."""
        why = _reason(reason)
        async with self._db.tx(write=True) as conn:
            event = (
                await conn.execute(
                    select(clock_events.c.person_uid, clock_events.c.received_at).where(
                        clock_events.c.id == event_id
                    )
                )
            ).first()
            if event is None:
                raise NotFoundError(f"no clock event with id {event_id}")
            already = await conn.scalar(
                select(corrections.c.id).where(
                    corrections.c.kind == "void", corrections.c.event_id == event_id
                )
            )
            if already is not None:
                raise ConflictError(f"event {event_id} is already voided (correction {already})")
            new_id = (
                await conn.execute(
                    insert(corrections)
                    .values(
                        person_uid=event.person_uid,
                        kind="void",
                        event_id=event_id,
                        reason=why,
                        created_by=actor.name,
                    )
                    .returning(corrections.c.id)
                )
            ).scalar_one()
            await write_audit(
                conn,
                actor,
                "correction.void",
                event.person_uid,
                {"id": new_id, "event_id": event_id, "reason": why},
            )
        return int(new_id)

    async def recent(
        self,
        *,
        uid: str | None = None,
        limit: int = 200,
        before_id: int | None = None,
        kind: str | None = None,
    ) -> list[CorrectionRow]:
        """Newest first; `before_id` pages back (keyset, by id); `kind`: 'add' or 'void'."""
        query = _select().order_by(corrections.c.id.desc()).limit(max(0, limit))
        if uid is not None:
            query = query.where(corrections.c.person_uid == uid)
        if before_id is not None:
            query = query.where(corrections.c.id < before_id)
        if kind is not None:
            query = query.where(corrections.c.kind == kind)
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_row(r) for r in rows]

    async def affecting(
        self, start: datetime, end: datetime, uid: str | None = None
    ) -> list[CorrectionRow]:
        """Corrections whose instant (the added punch, or the voided event's) falls in
        [start, end), oldest first."""
        validate.aware(start, "start")
        validate.aware(end, "end")
        c, ev = corrections.c, clock_events.c
        query = _select().where(
            or_(
                and_(c.kind == "add", c.at >= start, c.at < end),
                and_(c.kind == "void", ev.received_at >= start, ev.received_at < end),
            )
        )
        if uid is not None:
            query = query.where(c.person_uid == uid)
        async with self._db.tx() as conn:
            rows = (await conn.execute(query.order_by(c.id))).all()
        return [_row(r) for r in rows]


def _select() -> Select[Any]:
    c, ev = corrections.c, clock_events.c
    return select(
        c.id,
        c.person_uid,
        c.kind,
        c.direction,
        c.at,
        c.event_id,
        c.reason,
        c.created_by,
        c.created_at,
        ev.direction.label("event_direction"),
        ev.received_at.label("event_at"),
    ).outerjoin(clock_events, c.event_id == ev.id)


def _row(r: object) -> CorrectionRow:
    m = r._mapping  # type: ignore[attr-defined]
    add = m["kind"] == "add"
    return CorrectionRow(
        id=int(m["id"]),
        person_uid=m["person_uid"],
        kind=m["kind"],
        direction=m["direction"] if add else m["event_direction"],
        at=m["at"] if add else m["event_at"],
        event_id=m["event_id"],
        reason=m["reason"],
        created_by=m["created_by"],
        created_at=m["created_at"],
    )


async def _person(conn: AsyncConnection, uid: str) -> None:
    row = (
        await conn.execute(select(people.c.name, people.c.erased_at).where(people.c.uid == uid))
    ).first()
    if row is None:
        raise NotFoundError(f"no person with uid {uid!r}")
    if row.erased_at is not None:
        raise ConflictError(f"person {uid!r} was erased")
