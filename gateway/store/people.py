"""People and their cards: enrolment, the unknown-card list and CSV imports."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import Person, normalise_card_key
from gateway.errors import ConflictError, GatewayError, NotFoundError
from gateway.store import validate
from gateway.store.database import Database
from gateway.store.models import ImportResult, PersonImport, PersonRow, UnknownSwipeRow
from gateway.store.tables import cards, people, unknown_swipes

# A card's current assignment: revoked ones stay in the table as its history.
ACTIVE_CARD = cards.c.revoked_at.is_(None)


class _DryRun(Exception):
    """Raised inside a transaction to roll it back on purpose."""


class PeopleStore:
    """add_person, assign_card, revoke_card, people, unknown_swipes, import_people."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_person(self, uid: str, name: str) -> Person:
        uid, name = validate.uid(uid), validate.name(name)
        async with self._db.tx(write=True) as conn:
            await _insert_person(conn, uid, name)
        return Person(uid=uid, name=name, active=True)

    async def assign_card(self, card_key: str, uid: str) -> None:
        """Give a card to a person; a no-op if they already hold it."""
        key, uid = normalise_card_key(card_key), validate.uid(uid)
        async with self._db.tx(write=True) as conn:
            await _assign(conn, key, uid)

    async def revoke_card(self, card_key: str) -> str:
        """End the current assignment of a card; returns the former holder's uid."""
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
        return str(holder)

    async def people(self, *, without_card: bool = False) -> list[PersonRow]:
        """Everyone, with their active cards; only those with none if without_card."""
        query = (
            select(people.c.uid, people.c.name, people.c.active, cards.c.card_key)
            .outerjoin(cards, and_(cards.c.person_uid == people.c.uid, ACTIVE_CARD))
            .order_by(people.c.uid, cards.c.card_key)
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        result: dict[str, PersonRow] = {}
        for r in rows:
            row = result.setdefault(r.uid, PersonRow(r.uid, r.name, r.active, []))
            if r.card_key is not None:
                row.cards.append(r.card_key)
        return [p for p in result.values() if not (without_card and p.cards)]

    async def unknown_swipes(self, *, limit: int = 50) -> list[UnknownSwipeRow]:
        """Recent swipes of cards nobody holds, most recent first."""
        assigned = exists().where(cards.c.card_key == unknown_swipes.c.card_key, ACTIVE_CARD)
        query = (
            select(unknown_swipes)
            .where(~assigned)
            .order_by(unknown_swipes.c.last_seen.desc(), unknown_swipes.c.card_key)
            .limit(max(0, limit))
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [
            UnknownSwipeRow(
                card_key=r.card_key,
                first_seen=r.first_seen,
                last_seen=r.last_seen,
                count=r._mapping["count"],
                last_reader=r.last_reader,
                last_reader_hw_id=r.last_reader_hw_id,
            )
            for r in rows
        ]

    async def import_people(
        self, rows: Sequence[PersonImport], *, dry_run: bool = False
    ) -> list[ImportResult]:
        """Add people and their cards in one transaction: all rows or none.

        A uid that exists with the same name is left as it is; with another name it
        is a conflict. Errors name the row's line. dry_run checks and rolls back.
        """
        results: list[ImportResult] = []
        try:
            async with self._db.tx(write=True) as conn:
                for row in rows:
                    results.append(await _import_row(conn, row))
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        return results


async def _insert_person(conn: AsyncConnection, uid: str, name: str) -> None:
    existing = await conn.scalar(select(people.c.name).where(people.c.uid == uid))
    if existing is not None:
        raise ConflictError(f"a person with uid {uid!r} already exists ({existing})")
    try:
        async with conn.begin_nested():
            await conn.execute(insert(people).values(uid=uid, name=name))
    except IntegrityError:  # added by someone else since the check above
        raise ConflictError(f"a person with uid {uid!r} already exists") from None


async def _assign(conn: AsyncConnection, key: str, uid: str) -> bool:
    """Assign within a transaction; False if the person already held the card."""
    person = (
        await conn.execute(select(people.c.name, people.c.active).where(people.c.uid == uid))
    ).first()
    if person is None:
        raise NotFoundError(f"no person with uid {uid!r}: add them with 'users add'")
    if not person.active:
        raise ConflictError(f"person {uid!r} ({person.name}) is inactive")
    holder = (
        await conn.execute(
            select(people.c.uid, people.c.name)
            .join(cards, cards.c.person_uid == people.c.uid)
            .where(cards.c.card_key == key, ACTIVE_CARD)
        )
    ).first()
    if holder is not None:
        if holder.uid == uid:
            return False
        raise ConflictError(
            f"card {key} is held by {holder.uid} ({holder.name}): "
            f"revoke it first with 'cards revoke {key}'"
        )
    try:
        async with conn.begin_nested():
            await conn.execute(insert(cards).values(card_key=key, person_uid=uid))
    except IntegrityError:  # assigned by someone else since the check above
        raise ConflictError(f"card {key} was just assigned to someone else") from None
    return True


async def _import_row(conn: AsyncConnection, row: PersonImport) -> ImportResult:
    try:
        uid, name = validate.uid(row.uid), validate.name(row.name)
        key = normalise_card_key(row.card_key) if row.card_key else None
        existing = await conn.scalar(select(people.c.name).where(people.c.uid == uid))
        if existing is None:
            await _insert_person(conn, uid, name)
            person = "added"
        elif existing == name:
            person = "unchanged"
        else:
            raise ConflictError(f"uid {uid!r} already exists with name {existing!r}")
        card = None
        if key is not None:
            card = "assigned" if await _assign(conn, key, uid) else "unchanged"
    except GatewayError as exc:
        raise type(exc)(f"line {row.line}: {exc.message}") from None
    return ImportResult(line=row.line, uid=uid, person=person, card=card)
