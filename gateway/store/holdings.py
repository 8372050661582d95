"""Who holds which card: the SQL pieces that more than one store needs.

`ACTIVE_CARD` is the one definition of a card's current assignment (revoked ones stay
in `cards` as its history), for the lookups of the swipe path, the people lists and
the imports alike. `insert_person` and `assign_card` run inside a transaction their
caller owns, so that the audited writes of LifecycleStore put their audit row in the
same transaction.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import ConflictError, NotFoundError
from gateway.store.tables import cards, people

ACTIVE_CARD = cards.c.revoked_at.is_(None)


async def insert_person(conn: AsyncConnection, uid: str, name: str) -> None:
    """A new person (uid and name already validated); ConflictError if the uid exists."""
    existing = await conn.scalar(select(people.c.name).where(people.c.uid == uid))
    if existing is not None:
        raise ConflictError(f"a person with uid {uid!r} already exists ({existing})")
    try:
        async with conn.begin_nested():
            await conn.execute(insert(people).values(uid=uid, name=name))
    except IntegrityError:  # added by someone else since the check above
        raise ConflictError(f"a person with uid {uid!r} already exists") from None


async def assign_card(conn: AsyncConnection, key: str, uid: str) -> bool:
    """Give the card (its key normalised) to an active person; False if they already
    held it. NotFoundError for nobody with that uid, ConflictError for an inactive
    person or a card someone else holds."""
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
