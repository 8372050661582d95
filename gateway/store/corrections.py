"""Corrections: missed clock-ins/outs added and mistaken taps voided, each a record of
its own (who, when, why, what it changes). Raw events are never edited.

Since schema v5 each one is stored with its 'proposed' step and waits for the other
side's agreement (gateway/store/correction_steps.py); only those in force (made before
v5, or accepted) change the figures. Reports, `who` and the board read them next to
the events (gateway.reports.corrections), which applies exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import Direction
from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store import validate
from gateway.store.audit import Actor, write_audit
from gateway.store.correction_steps import (
    Decision,
    Side,
    StepRow,
    decide,
    in_force,
    propose,
    state_of,
    steps_of,
)
from gateway.store.database import Database
from gateway.store.folding import fold, fold_sql, like_pattern, search_words
from gateway.store.tables import clock_events, correction_steps, corrections, people

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
    steps: tuple[StepRow, ...] = ()  # the agreement trail, oldest first

    @property
    def state(self) -> str:
        """legacy, pending, accepted, rejected or withdrawn."""
        return state_of(self.steps)

    @property
    def in_force(self) -> bool:
        return in_force(self.state)

    @property
    def proposed_by(self) -> str:
        """The side that proposed it ('' before v5)."""
        return self.steps[0].side if self.steps else ""

    @property
    def waits_for(self) -> str:
        """The side whose answer it waits for, or ''."""
        if self.state != "pending":
            return ""
        return "worker" if self.proposed_by == "company" else "company"


def _reason(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise InvalidInputError("a correction needs a reason")
    if len(text) > MAX_REASON:
        raise InvalidInputError(f"the reason is too long (at most {MAX_REASON} characters)")
    return text


class CorrectionStore:
    """add_missing, void, decide, get, recent, pending, affecting."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_missing(
        self,
        uid: str,
        direction: str,
        at: datetime,
        reason: str,
        actor: Actor,
        *,
        side: Side = "company",
    ) -> int:
        """Propose a missed clock-in or clock-out of `uid` at `at`: by the company (hr,
        an admin, the CLI; it waits for the worker) or by the worker (a missed-punch
        request, `reason` their note; it waits for the company)."""
        uid = validate.uid(uid)
        async with self._db.tx(write=True) as conn:
            return await insert_missing(conn, uid, direction, at, reason, actor, side=side)

    async def void(
        self, event_id: int, reason: str, actor: Actor, *, side: Side = "company"
    ) -> int:
        """Propose voiding a mistaken event: once agreed, reports and presence no longer
        count it."""
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
            voids = (
                await conn.scalars(
                    select(corrections.c.id).where(
                        corrections.c.kind == "void", corrections.c.event_id == event_id
                    )
                )
            ).all()
            trails = await steps_of(conn, voids)
            for already in voids:  # a rejected or withdrawn void leaves the event as it was
                state = state_of(trails.get(already, []))
                if state == "pending":
                    raise ConflictError(
                        f"event {event_id} already has a void waiting (correction {already})"
                    )
                if in_force(state):
                    raise ConflictError(
                        f"event {event_id} is already voided (correction {already})"
                    )
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
            await propose(conn, int(new_id), side, actor, why)
            await write_audit(
                conn,
                actor,
                "correction.void",
                event.person_uid,
                {"id": new_id, "event_id": event_id, "reason": why, "side": side},
            )
        return int(new_id)

    async def decide(
        self,
        correction_id: int,
        decision: Decision,
        actor: Actor,
        *,
        side: Side,
        person_uid: str | None = None,
        note: str = "",
    ) -> CorrectionRow:
        """Accept, reject (with a reason) or withdraw a pending correction; the
        correction with its new step. A worker (`side='worker'`) names their own
        person: another's correction is NotYoursError."""
        async with self._db.tx(write=True) as conn:
            await decide(
                conn, correction_id, decision, actor, side=side, person_uid=person_uid, note=note
            )
            rows = await _rows(conn, _select().where(corrections.c.id == correction_id))
        return rows[0]

    async def get(self, correction_id: int) -> CorrectionRow:
        async with self._db.tx() as conn:
            rows = await _rows(conn, _select().where(corrections.c.id == correction_id))
        if not rows:
            raise NotFoundError(f"no correction {correction_id}")
        return rows[0]

    async def recent(
        self,
        *,
        uid: str | None = None,
        limit: int = 200,
        before_id: int | None = None,
        kind: str | None = None,
        text: str = "",
    ) -> list[CorrectionRow]:
        """Newest first; `before_id` pages back (keyset, by id); `kind`: 'add' or 'void';
        `text`: every word in the person's name or uid or in the reason, case and
        accents ignored."""
        query = _select().order_by(corrections.c.id.desc()).limit(max(0, limit))
        dialect = self._db.dialect
        for word in search_words(text):
            pattern = like_pattern(fold(word))
            named = exists().where(
                people.c.uid == corrections.c.person_uid,
                fold_sql(people.c.name, dialect).like(pattern, escape="\\"),
            )
            query = query.where(
                or_(
                    named,
                    fold_sql(corrections.c.person_uid, dialect).like(pattern, escape="\\"),
                    fold_sql(corrections.c.reason, dialect).like(pattern, escape="\\"),
                )
            )
        if uid is not None:
            query = query.where(corrections.c.person_uid == uid)
        if before_id is not None:
            query = query.where(corrections.c.id < before_id)
        if kind is not None:
            query = query.where(corrections.c.kind == kind)
        async with self._db.tx() as conn:
            return await _rows(conn, query)

    async def pending(
        self, *, uid: str | None = None, waiting_for: Side | None = None
    ) -> list[CorrectionRow]:
        """The corrections waiting for an answer (for `waiting_for`'s, when given),
        oldest first."""
        s = correction_steps.c
        last = select(s.correction_id, func.max(s.id).label("last_id")).group_by(s.correction_id)
        latest = last.subquery()
        query = (
            _select()
            .join(latest, latest.c.correction_id == corrections.c.id)
            .join(correction_steps, correction_steps.c.id == latest.c.last_id)
            .where(correction_steps.c.step == "proposed")
            .order_by(corrections.c.id)
        )
        if uid is not None:
            query = query.where(corrections.c.person_uid == uid)
        async with self._db.tx() as conn:
            rows = await _rows(conn, query)
        if waiting_for is not None:
            rows = [r for r in rows if r.waits_for == waiting_for]
        return rows

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
            return await _rows(conn, query.order_by(c.id))


async def insert_missing(
    conn: AsyncConnection,
    uid: str,
    direction: str,
    at: datetime,
    reason: str,
    actor: Actor,
    *,
    side: Side,
) -> int:
    """`add_missing` in the caller's transaction (the open-day check files its
    proposed close with its notice)."""
    try:
        punch = Direction(direction)
    except ValueError:
        raise InvalidInputError(f"direction must be 'in' or 'out', got {direction!r}") from None
    at = validate.aware(at, "at").astimezone(UTC)
    if at > datetime.now(UTC) + _FUTURE_SLACK:
        raise InvalidInputError("a missed punch cannot be in the future")
    why = _reason(reason)
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
    await propose(conn, int(new_id), side, actor, why)
    await write_audit(
        conn,
        actor,
        "correction.request" if side == "worker" else "correction.add",
        uid,
        {"id": new_id, "direction": punch.value, "at": at.isoformat(), "reason": why, "side": side},
    )
    return int(new_id)


async def _rows(conn: AsyncConnection, query: Select[Any]) -> list[CorrectionRow]:
    """The rows of a `_select()` query, each with its agreement trail."""
    rows = [_row(r) for r in (await conn.execute(query)).all()]
    trails = await steps_of(conn, (r.id for r in rows))
    return [replace(r, steps=tuple(trails[r.id])) if r.id in trails else r for r in rows]


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
