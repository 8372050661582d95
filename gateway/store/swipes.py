"""The swipe path's store: who holds a card, and recording swipes and events.

This is all the daemon's recorder needs from the database (its `SwipeStorage`
protocol). On PostgreSQL a batch of swipes is one statement (swipes_pg.py); on
SQLite it is one transaction of a few statements, in one call to a thread that keeps
its connection (swipes_sqlite.py; an in-memory database goes through the engine).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, case, select

from gateway.domain import ClockEvent, Person, UnknownSwipe, normalise_card_key
from gateway.errors import GatewayError, InvalidInputError, NotFoundError
from gateway.logs import get_logger
from gateway.store import validate
from gateway.store.database import Database
from gateway.store.holdings import ACTIVE_CARD
from gateway.store.listen import CARDS_CHANNEL, Listener
from gateway.store.swipes_pg import PgSwipeWriter
from gateway.store.swipes_sqlite import SqliteSwipeWriter, event_values, unknown_values
from gateway.store.tables import cards, clock_events, people, unknown_swipes

log = get_logger("store")

# record_swipes transactions in flight at once on PostgreSQL (see swipe_lanes).
SWIPE_LANES = 2
# Rows per INSERT statement: far below SQLite's and PostgreSQL's bind-parameter limits.
INSERT_CHUNK = 500


class SwipeStore:
    """record_swipes, record_events, record_unknown, find_person_by_card, card_directory."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # The swipe path's statements, built once: SQLAlchemy then finds their compiled
        # form in its cache without rebuilding and hashing a new statement per batch.
        self._holders_query = (
            select(cards.c.card_key, people.c.uid, people.c.name)
            .join(people, cards.c.person_uid == people.c.uid)
            .where(
                cards.c.card_key.in_(bindparam("keys", expanding=True)),
                ACTIVE_CARD,
                people.c.active.is_(True),
            )
        )
        # Executed with a list of rows: one multi-row INSERT ("insertmanyvalues").
        self._event_insert = (
            db.insert(clock_events)
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(clock_events.c.event_key)
        )
        self._unknown_upsert = _unknown_upsert(db)
        # PostgreSQL: the swipe path's one-statement transaction (see swipes_pg.py).
        self._pg = (
            PgSwipeWriter(
                db.libpq,
                connect_timeout=db.connect_timeout,
                where=db.url,
                prepare=db.server_prepares,
                hosts=db.hosts,
            )
            if db.dialect == "postgresql"
            else None
        )
        # SQLite on a file: the swipe's whole transaction on one thread (swipes_sqlite.py).
        self._sqlite = (
            SqliteSwipeWriter(
                db.sqlite_file,
                timeout=db.connect_timeout,
                event_insert=db.insert(clock_events).on_conflict_do_nothing(
                    index_elements=["event_key"]
                ),
                unknown_upsert=self._unknown_upsert,
                unavailable=db.unavailable,
            )
            if db.dialect == "sqlite" and db.sqlite_file is not None
            else None
        )

    @property
    def swipe_lanes(self) -> int:
        """How many record_swipes transactions may usefully run at once.

        PostgreSQL: two, so that a swipe arriving while another reader's commit runs
        starts its own instead of waiting for it (a reader's next swipe only comes
        after its answer, so its order holds; the export's settle time covers ids
        committed out of order). SQLite has one writer: one.
        """
        return SWIPE_LANES if self._pg is not None else 1

    def card_change_listener(
        self, on_change: Callable[[str], None], *, url: str | None = None
    ) -> Listener | None:
        """A listener for card and people changes (PostgreSQL's NOTIFY), on `url` if
        given (a direct path past a transaction-mode pooler); None on SQLite, which has
        no notifications (the periodic refresh is all there is)."""
        return self._db.listener([CARDS_CHANNEL], on_change, name="card", url=url)

    async def close(self) -> None:
        """Close the fast paths' own connections (the Database is the caller's)."""
        if self._pg is not None:
            await self._pg.close()
        if self._sqlite is not None:
            await self._sqlite.close()

    async def check(self) -> int:
        """The schema version (Database.check): the recorder's "is it back?" probe."""
        return await self._db.check()

    async def find_person_by_card(self, card_key: str) -> Person | None:
        """The active person holding this card now, or None."""
        key = normalise_card_key(card_key)
        query = (
            select(people.c.uid, people.c.name, people.c.active)
            .join(cards, cards.c.person_uid == people.c.uid)
            .where(cards.c.card_key == key, ACTIVE_CARD, people.c.active.is_(True))
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Person(uid=row.uid, name=row.name, active=row.active)

    async def card_directory(self) -> dict[str, Person]:
        """Every active card of an active person: the daemon's offline directory."""
        query = (
            select(cards.c.card_key, people.c.uid, people.c.name, people.c.active)
            .join(people, cards.c.person_uid == people.c.uid)
            .where(ACTIVE_CARD, people.c.active.is_(True))
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return {r.card_key: Person(uid=r.uid, name=r.name, active=r.active) for r in rows}

    async def record_events(self, events: Sequence[ClockEvent]) -> list[bool]:
        """Store events in one transaction; per event, True if newly stored.

        Idempotent on event_key: an event already stored (or repeated in the batch)
        is False and is not stored again. All or nothing: on an error none is stored.
        """
        checked = [validate.clock_event(e) for e in events]
        if not checked:
            return []
        stored: set[uuid.UUID] = set()
        try:
            async with self._db.tx(write=True) as conn:
                for start in range(0, len(checked), INSERT_CHUNK):
                    chunk = checked[start : start + INSERT_CHUNK]
                    # The prebuilt statement with a list of rows: compiled once, not
                    # once per batch as a statement with the rows inlined would be.
                    rows = [event_values(e) for e in chunk]
                    stored.update((await conn.execute(self._event_insert, rows)).scalars())
        except InvalidInputError:
            missing = await self._db.missing_uids({e.person_uid for e in checked if e.person_uid})
            if missing:
                raise NotFoundError(
                    f"cannot record events: no person with uid {', '.join(sorted(missing))}"
                ) from None
            raise
        result: list[bool] = []
        for event in checked:
            # Only the first occurrence of a key inside the batch counts as new.
            result.append(event.event_key in stored)
            stored.discard(event.event_key)
        return result

    async def record_swipes(self, swipes: Sequence[ClockEvent]) -> list[Person | None]:
        """Look up and record a batch of swipes in ONE transaction; per swipe, the
        active holder of its card, or None.

        The holders of all the batch's cards are found and the known cards' events
        stored (idempotent on event_key, as record_events) in one transaction, so a
        revoked card is refused as soon as the revocation is committed. All or nothing
        for the events: on an error none is stored. Unknown cards go on the enrolment
        list (best effort: a failure there is logged and fails nothing). PostgreSQL:
        one statement (swipes_pg.py); SQLite: SELECT, INSERT, upserts, COMMIT
        (swipes_sqlite.py on a file).
        """
        if not swipes:
            return []
        checked = [validate.clock_event(s, with_person=False) for s in swipes]
        if self._sqlite is not None:
            return await self._sqlite.record(checked, _unknown_of)
        if self._pg is None:
            return await self._record_swipes_core(checked)
        holders = await self._pg.record(checked)
        unknown = [s.unknown() for s, p in zip(checked, holders, strict=True) if p is None]
        if unknown:
            try:
                await self._record_unknowns(unknown)
            except GatewayError as exc:
                log.warning("unknown_swipes_not_stored", cards=len(unknown), error=str(exc))
        return holders

    async def _record_swipes_core(self, checked: Sequence[ClockEvent]) -> list[Person | None]:
        """record_swipes over SQLAlchemy: one transaction, several statements."""
        keys = [s.card_key for s in checked]
        async with self._db.tx(write=True) as conn:
            rows = await conn.execute(self._holders_query, {"keys": sorted(set(keys))})
            holders = {r.card_key: Person(uid=r.uid, name=r.name) for r in rows}
            events: list[dict[str, Any]] = []
            unknown: list[UnknownSwipe] = []
            for swipe in checked:
                person = holders.get(swipe.card_key)
                if person is not None:
                    events.append(event_values(swipe.with_person(person.uid)))
                elif (ok := _checked_unknown(swipe.unknown())) is not None:
                    unknown.append(ok)
            if events:
                await conn.execute(self._event_insert, events)
            for one in unknown:
                await conn.execute(self._unknown_upsert, unknown_values(one))
        return [holders.get(key) for key in keys]

    async def _record_unknowns(self, swipes: Sequence[UnknownSwipe]) -> None:
        checked = [u for u in map(_checked_unknown, swipes) if u is not None]
        if not checked:
            return
        async with self._db.tx(write=True) as conn:
            for one in checked:
                await conn.execute(self._unknown_upsert, unknown_values(one))

    async def record_unknown(self, swipe: UnknownSwipe) -> None:
        """Add or refresh a card on the enrolment list."""
        s = validate.unknown_swipe(swipe)
        async with self._db.tx(write=True) as conn:
            await conn.execute(self._unknown_upsert, unknown_values(s))


def _unknown_of(swipe: ClockEvent) -> UnknownSwipe | None:
    return _checked_unknown(swipe.unknown())


def _checked_unknown(swipe: UnknownSwipe) -> UnknownSwipe | None:
    """The validated swipe, or None: a bad one must not fail the batch's events."""
    try:
        return validate.unknown_swipe(swipe)
    except InvalidInputError as exc:
        log.warning("unknown_swipe_refused", card=swipe.card_key, error=str(exc))
        return None


def _unknown_upsert(db: Database) -> Any:
    stmt = db.insert(unknown_swipes)
    new = stmt.excluded
    # Spooled swipes may be replayed out of order: keep the earliest first_seen and
    # let only a later swipe move last_seen and the reader.
    newer = new.last_seen >= unknown_swipes.c.last_seen
    return stmt.on_conflict_do_update(
        index_elements=["card_key"],
        set_={
            "first_seen": case(
                (new.first_seen < unknown_swipes.c.first_seen, new.first_seen),
                else_=unknown_swipes.c.first_seen,
            ),
            "last_seen": case((newer, new.last_seen), else_=unknown_swipes.c.last_seen),
            "count": unknown_swipes.c.count + 1,
            "last_reader": case((newer, new.last_reader), else_=unknown_swipes.c.last_reader),
            "last_reader_hw_id": case(
                (newer, new.last_reader_hw_id), else_=unknown_swipes.c.last_reader_hw_id
            ),
            "last_gateway_id": case(
                (newer, new.last_gateway_id), else_=unknown_swipes.c.last_gateway_id
            ),
        },
    )
