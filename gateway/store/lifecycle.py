"""A person's life in the records: rename, deactivate, erase.

Erasure (a person's right to have their personal data removed, GDPR art. 17) against
the duty to keep the working-time register (4 years in Spain, 5 in Portugal): art.
17(3)(b) lets the employer keep what a legal obligation makes it keep, and no longer.
So within the retention period erasure keeps the register whole and removes the rest:
the person's timetable rows are deleted, their cards revoked (the assignment history
stays: it is part of the record of who held which card when) and the person is made
inactive and marked `erased_at`, which takes them off every everyday list. Kept, exactly
as they were: the person's row (uid and name: whose register it is), their clock events,
corrections and audit rows, all sealed (store/seals.py: a sealed row is never changed).
The erasure's own audit row says what was removed and what kept, and why. The
retention purge (store/retention.py) deletes the register as it ages out and, once
nothing refers to an erased person any more, their row and card history too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import Person, normalise_card_key
from gateway.errors import ConflictError, NotFoundError
from gateway.store import validate
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.holdings import ACTIVE_CARD, assign_card, insert_person
from gateway.store.models import PersonRow
from gateway.store.tables import cards, clock_events, corrections, people, timetable

# Version 2 pseudonymised erased people; such rows stay as they were.
ERASED_NAME = "(erased)"
ERASED_PREFIX = "erased-"
# Why an erasure keeps the register, in its audit row.
ERASURE_BASIS = (
    "GDPR art. 17(3)(b): the working-time register is kept for its legal retention "
    "period (Estatuto de los Trabajadores art. 34.9; Codigo do Trabalho art. 202)"
)


def is_erased(person: PersonRow) -> bool:
    """Erased: marked so by `erase` (v3), or a pseudonym a version-2 erase left;
    kept for the register, nothing to manage about it."""
    return person.erased or (person.name == ERASED_NAME and person.uid.startswith(ERASED_PREFIX))


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed and what it kept."""

    uid: str
    cards_revoked: int
    timetable_rows: int
    events_kept: int
    corrections_kept: int

    def __str__(self) -> str:
        return (
            f"removed {self.timetable_rows} timetable row(s), revoked {self.cards_revoked} "
            f"card(s); kept the register ({self.events_kept} event(s), "
            f"{self.corrections_kept} correction(s)) until the retention purge"
        )


class LifecycleStore:
    """Every change made to a person or a card, and the retention purge, each with its
    audit row in the same transaction: the one door for these writes, whoever makes
    them (the web, the CLI, the demo). add_person, assign_card, revoke_card, rename,
    set_active, erase (the purge is store/retention.py)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_person(self, uid: str, name: str, actor: Actor) -> Person:
        uid, name = validate.uid(uid), validate.name(name)
        async with self._db.tx(write=True) as conn:
            await insert_person(conn, uid, name)
            await write_audit(conn, actor, "person.add", uid, {"name": name})
        return Person(uid=uid, name=name, active=True)

    async def assign_card(self, card_key: str, uid: str, actor: Actor) -> None:
        """Give a card to a person (a no-op, not audited, if they already hold it)."""
        key, uid = normalise_card_key(card_key), validate.uid(uid)
        async with self._db.tx(write=True) as conn:
            if await assign_card(conn, key, uid):
                await write_audit(conn, actor, "card.assign", uid, {"card": key})

    async def revoke_card(self, card_key: str, actor: Actor) -> str:
        """End the card's current assignment (its history stays); the former holder."""
        key = normalise_card_key(card_key)
        stmt = (
            update(cards)
            .where(cards.c.card_key == key, ACTIVE_CARD)
            .values(revoked_at=func.now())
            .returning(cards.c.person_uid)
        )
        async with self._db.tx(write=True) as conn:
            holder = (await conn.execute(stmt)).scalar()
            if holder is None:
                raise NotFoundError(f"card {key} is not assigned to anyone")
            await write_audit(conn, actor, "card.revoke", str(holder), {"card": key})
        return str(holder)

    async def rename(self, uid: str, name: str, actor: Actor) -> str:
        """The old name."""
        uid, name = validate.uid(uid), validate.name(name)
        async with self._db.tx(write=True) as conn:
            old = await _live_person(conn, uid)
            await conn.execute(update(people).where(people.c.uid == uid).values(name=name))
            await write_audit(conn, actor, "person.rename", uid, {"from": old, "to": name})
        return old

    async def set_active(self, uid: str, active: bool, actor: Actor) -> None:
        """Deactivate (their cards stop working; their records stay) or reactivate."""
        uid = validate.uid(uid)
        async with self._db.tx(write=True) as conn:
            await _live_person(conn, uid)
            await conn.execute(update(people).where(people.c.uid == uid).values(active=active))
            action = "person.reactivate" if active else "person.deactivate"
            await write_audit(conn, actor, action, uid)

    async def erase(self, uid: str, actor: Actor) -> Erasure:
        """Erase what the register does not need; keep the register (see the module)."""
        uid = validate.uid(uid)
        async with self._db.tx(write=True) as conn:
            await _live_person(conn, uid)
            revoked = await conn.execute(
                update(cards)
                .where(cards.c.person_uid == uid, cards.c.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
            shifts = await conn.execute(delete(timetable).where(timetable.c.person_uid == uid))
            await conn.execute(
                update(people).where(people.c.uid == uid).values(active=False, erased_at=func.now())
            )
            kept = [
                int(await conn.scalar(select(func.count()).where(t.c.person_uid == uid)) or 0)
                for t in (clock_events, corrections)
            ]
            result = Erasure(uid, int(revoked.rowcount or 0), int(shifts.rowcount or 0), *kept)
            await write_audit(
                conn,
                actor,
                "person.erase",
                uid,
                {
                    "removed": {"timetable_rows": result.timetable_rows},
                    "cards_revoked": result.cards_revoked,
                    "kept": {"events": kept[0], "corrections": kept[1]},
                    "basis": ERASURE_BASIS,
                },
            )
        return result


async def _live_person(conn: AsyncConnection, uid: str) -> str:
    """The name of a person who exists and was not erased."""
    row = (
        await conn.execute(select(people.c.name, people.c.erased_at).where(people.c.uid == uid))
    ).first()
    if row is None:
        raise NotFoundError(f"no person with uid {uid!r}")
    if row.erased_at is not None:
        raise ConflictError(f"person {uid!r} was erased")
    return str(row.name)
