"""A person's life in the records: rename, deactivate, erase; and the retention purge.

Erasure (a person's right to have their personal data removed) against the duty to
keep working-time records (4 years in Spain): the events must stay, but nothing in
them may point at the person any more. `uid` is personal data too (usually the
person's name, e.g. `ana.garcia`), and it is the key every event, card, correction
and timetable row refers to. Rather than cascading key updates through the schema
(`ON UPDATE CASCADE`, which the existing foreign keys lack and an upgrade would have
to rebuild on SQLite), erasure moves everything in one transaction onto a fresh
random pseudonym: a new `people` row (`erased-<random>`, name `(erased)`, inactive,
`erased_at` set) takes over the events and corrections; cards are revoked and keep
their history under the pseudonym; timetable rows are deleted; audit rows that named
the old uid name the pseudonym instead and lose their details; the old row goes.
The pseudonym is random, so nothing left in the database leads back to the person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import Person, normalise_card_key
from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store import validate
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.holdings import ACTIVE_CARD, assign_card, insert_person
from gateway.store.models import PersonRow
from gateway.store.tables import audit_log, cards, clock_events, corrections, people, timetable

ERASED_NAME = "(erased)"
ERASED_PREFIX = "erased-"


def is_erased(person: PersonRow) -> bool:
    """A pseudonym left by `erase`: kept for its events, nothing to manage about it."""
    return person.name == ERASED_NAME and person.uid.startswith(ERASED_PREFIX)


@dataclass(frozen=True)
class PurgeResult:
    before: datetime
    events: int
    corrections: int


class LifecycleStore:
    """Every change made to a person or a card, and the retention purge, each with its
    audit row in the same transaction: the one door for these writes, whoever makes
    them (the web, the CLI, the demo). add_person, assign_card, revoke_card, rename,
    set_active, erase, purge_events."""

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

    async def erase(self, uid: str, actor: Actor) -> str:
        """Pseudonymise the person (see the module's docstring); the pseudonym."""
        uid = validate.uid(uid)
        pseudonym = ERASED_PREFIX + secrets.token_hex(6)
        async with self._db.tx(write=True) as conn:
            await _live_person(conn, uid)
            created = await conn.scalar(select(people.c.created_at).where(people.c.uid == uid))
            await conn.execute(
                insert(people).values(
                    uid=pseudonym,
                    name=ERASED_NAME,
                    active=False,
                    created_at=created,
                    erased_at=func.now(),
                )
            )
            await conn.execute(
                update(cards)
                .where(cards.c.person_uid == uid, cards.c.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
            for table in (cards, clock_events, corrections):
                await conn.execute(
                    update(table).where(table.c.person_uid == uid).values(person_uid=pseudonym)
                )
            await conn.execute(delete(timetable).where(timetable.c.person_uid == uid))
            await conn.execute(
                update(audit_log)
                .where(audit_log.c.target == uid)
                .values(target=pseudonym, details='{"erased": true}')
            )
            await conn.execute(delete(people).where(people.c.uid == uid))
            await write_audit(conn, actor, "person.erase", pseudonym)
        return pseudonym

    async def purge_events(self, before: datetime, actor: Actor) -> PurgeResult:
        """Delete the events received before `before`, and the corrections about them."""
        before = validate.aware(before, "before")
        async with self._db.tx(write=True) as conn:
            old_events = select(clock_events.c.id).where(clock_events.c.received_at < before)
            gone_corrections = (
                await conn.execute(
                    delete(corrections).where(
                        or_(
                            corrections.c.at < before,
                            corrections.c.event_id.in_(old_events.scalar_subquery()),
                        )
                    )
                )
            ).rowcount
            gone_events = (
                await conn.execute(delete(clock_events).where(clock_events.c.received_at < before))
            ).rowcount
            await write_audit(
                conn,
                actor,
                "events.purge",
                None,
                {
                    "before": before.isoformat(),
                    "events": gone_events,
                    "corrections": gone_corrections,
                },
            )
        return PurgeResult(before, int(gone_events or 0), int(gone_corrections or 0))


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


def check_years(years: int, minimum: int) -> None:
    if years < minimum:
        raise InvalidInputError(
            f"--older-than {years}: at least {minimum} years (Spanish law keeps "
            f"working-time records {minimum} years)"
        )
