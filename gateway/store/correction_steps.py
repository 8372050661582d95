"""The agreement trail of a correction (issue 22 item 5): proposed, then accepted,
rejected or withdrawn, each step a sealed row of its own (correction_steps) with its
audit record in the same transaction.

Who may take which step, as the draft decree asks (no entry changes without both the
company's and the worker's agreement):
- a correction filed by hr or an admin is proposed on the company side and waits for
  the worker it concerns; a missed punch requested by the worker waits for the company;
- the other side accepts or rejects it (a rejection says why); the side that proposed
  it may withdraw it while it waits;
- a correction with no steps at all was made before schema v5: in force, as it was.
A worker acts only on their own person's corrections: anything else is refused as if
it did not exist (`NotYoursError`), and the web audits the attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store.audit import Actor, write_audit
from gateway.store.tables import correction_steps, corrections

Side = Literal["company", "worker"]
Decision = Literal["accepted", "rejected", "withdrawn"]
SIDES: tuple[Side, ...] = ("company", "worker")
DECISIONS: tuple[Decision, ...] = ("accepted", "rejected", "withdrawn")
MAX_NOTE = 500
# pg_advisory_xact_lock(key, correction id): two decisions on one correction at once
# take turns, so only the first finds it pending (SQLite has one writer anyway).
STEP_LOCK_KEY = 0x73746570  # "step"
_STATE = {"proposed": "pending", "accepted": "accepted", "rejected": "rejected"}
_ACTION = {"accepted": "accept", "rejected": "reject", "withdrawn": "withdraw"}
_CHUNK = 500


class NotYoursError(NotFoundError):
    """A worker named a correction of somebody else (said as 'no such correction')."""


@dataclass(frozen=True)
class StepRow:
    id: int
    correction_id: int
    step: str  # proposed, accepted, rejected, withdrawn
    side: str  # company, worker
    actor: str
    note: str
    at: datetime


def state_of(steps: Sequence[StepRow]) -> str:
    """legacy (no steps: before v5, in force), pending, accepted, rejected, withdrawn."""
    if not steps:
        return "legacy"
    return _STATE.get(steps[-1].step, steps[-1].step)


def in_force(state: str) -> bool:
    return state in ("legacy", "accepted")


def note_text(value: str, *, required: bool, what: str = "a rejection") -> str:
    text_ = " ".join(value.split())
    if required and not text_:
        raise InvalidInputError(f"{what} needs a reason")
    if len(text_) > MAX_NOTE:
        raise InvalidInputError(f"the note is too long (at most {MAX_NOTE} characters)")
    return text_


async def propose(
    conn: AsyncConnection, correction_id: int, side: Side, actor: Actor, note: str
) -> None:
    """The 'proposed' step of a correction just inserted (same transaction)."""
    if side not in SIDES:
        raise InvalidInputError(f"side must be company or worker, got {side!r}")
    await conn.execute(
        insert(correction_steps).values(
            correction_id=correction_id, step="proposed", side=side, actor=actor.name, note=note
        )
    )


async def steps_of(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, list[StepRow]]:
    """Each correction's steps, oldest first (chunked: a year has many corrections)."""
    wanted = sorted(set(ids))
    found: dict[int, list[StepRow]] = {}
    s = correction_steps.c
    for i in range(0, len(wanted), _CHUNK):
        query = (
            select(s.id, s.correction_id, s.step, s.side, s.actor, s.note, s.at)
            .where(s.correction_id.in_(wanted[i : i + _CHUNK]))
            .order_by(s.id)
        )
        for r in (await conn.execute(query)).all():
            row = StepRow(
                int(r.id), int(r.correction_id), r.step, r.side, r.actor, r.note or "", r.at
            )
            found.setdefault(row.correction_id, []).append(row)
    return found


async def decide(
    conn: AsyncConnection,
    correction_id: int,
    decision: Decision,
    actor: Actor,
    *,
    side: Side,
    person_uid: str | None,
    note: str,
) -> str:
    """Take one step on a pending correction; the person it concerns.

    `person_uid` is the worker's own person when `side` is 'worker' (their account's
    link); a correction of anyone else is `NotYoursError`."""
    if decision not in DECISIONS:
        raise InvalidInputError(f"unknown step {decision!r}: one of {', '.join(DECISIONS)}")
    why = note_text(note, required=decision == "rejected")
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:k, :id)"),
            {"k": STEP_LOCK_KEY, "id": correction_id % (2**31)},
        )
    owner = await conn.scalar(
        select(corrections.c.person_uid).where(corrections.c.id == correction_id)
    )
    if owner is None:
        raise NotFoundError(f"no correction {correction_id}")
    if side == "worker" and owner != person_uid:
        raise NotYoursError(f"no correction {correction_id}")
    steps = (await steps_of(conn, [correction_id])).get(correction_id, [])
    state = state_of(steps)
    if state != "pending":
        raise ConflictError(f"correction {correction_id} is not waiting for anyone ({state})")
    proposer = steps[-1].side
    if decision == "withdrawn" and side != proposer:
        raise ConflictError(
            f"correction {correction_id} was proposed by the {proposer} side: only it may "
            "withdraw it"
        )
    if decision != "withdrawn" and side == proposer:
        raise ConflictError(
            f"correction {correction_id} waits for the other side: the {proposer} side "
            "that proposed it cannot also agree to it"
        )
    await conn.execute(
        insert(correction_steps).values(
            correction_id=correction_id, step=decision, side=side, actor=actor.name, note=why
        )
    )
    await write_audit(
        conn,
        actor,
        f"correction.{_ACTION[decision]}",
        owner,
        {"id": correction_id, "side": side, "note": why},
    )
    return str(owner)
