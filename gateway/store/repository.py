"""The repository: every query the gateway runs, on PostgreSQL or SQLite alike.

Built on SQLAlchemy Core over an async engine (see engine.py for why async). Each
public method is one transaction. Failures reach callers as gateway.errors types
with one-line messages: DatabaseUnavailableError when the database cannot be used
(unreachable, wrong password, no schema), so the daemon can fall back to its spool;
NotFoundError, ConflictError or InvalidInputError when the change itself is refused,
in which case nothing has been written.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import (
    ClockEvent,
    Direction,
    Outcome,
    Person,
    SwipeRecord,
    UnknownSwipe,
    normalise_card_key,
)
from gateway.errors import (
    ConflictError,
    DatabaseUnavailableError,
    GatewayError,
    InvalidInputError,
    NotFoundError,
)
from gateway.logs import get_logger
from gateway.redact import redact_url
from gateway.store import failures, validate
from gateway.store.engine import SQLITE_WRITE, create_engine, normalise_url, sqlite_path
from gateway.store.models import (
    ImportResult,
    PersonImport,
    PersonRow,
    StoredEvent,
    SwipeFacts,
    TimetableEntry,
    UnknownSwipeRow,
)
from gateway.store.swipes_pg import PgSwipeWriter
from gateway.store.tables import (
    SCHEMA_VERSION,
    UtcDateTime,
    cards,
    clock_events,
    metadata,
    people,
    schema_version,
    timetable,
    unknown_swipes,
)


def _log() -> Any:
    # Looked up at each use: a logger bound at import time would keep the logging
    # configuration of that moment, before the CLI or daemon has configured it.
    return get_logger("store")


# record_swipes transactions in flight at once on PostgreSQL (see swipe_lanes).
SWIPE_LANES = 2
# Rows per INSERT statement: far below SQLite's and PostgreSQL's bind-parameter limits.
_INSERT_CHUNK = 500
# Rows per round trip when streaming events for reports.
_STREAM_CHUNK = 1000
# Rows per batch of the single streamed SELECT behind swipes_between.
_REPORT_BATCH = 5000
# Serialises concurrent `db init` runs on one PostgreSQL database.
_INIT_LOCK_KEY = 0x636C6F636B  # "clock"


class _DryRun(Exception):
    """Raised inside a transaction to roll it back on purpose."""


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
    )


_ACTIVE_CARD = cards.c.revoked_at.is_(None)


class Repository:
    def __init__(self, url: str, *, connect_timeout: float = 5.0, pool_size: int = 5) -> None:
        self._url = normalise_url(url)
        # As the person wrote it (driver names are ours to add), every secret masked.
        self._where = redact_url(url)
        self._dialect = self._url.get_backend_name()
        path = sqlite_path(self._url)
        self._sqlite_folder = None if path is None else path.parent
        self._engine = create_engine(
            self._url, connect_timeout=connect_timeout, pool_size=pool_size
        )
        # The swipe path's statements, built once: SQLAlchemy then finds their compiled
        # form in its cache without rebuilding and hashing a new statement per batch.
        self._holders_query = (
            select(cards.c.card_key, people.c.uid, people.c.name)
            .join(people, cards.c.person_uid == people.c.uid)
            .where(
                cards.c.card_key.in_(bindparam("keys", expanding=True)),
                _ACTIVE_CARD,
                people.c.active.is_(True),
            )
        )
        # Executed with a list of rows: one multi-row INSERT ("insertmanyvalues").
        self._event_insert = (
            self._insert(clock_events)
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(clock_events.c.event_key)
        )
        self._unknown_upsert = self._build_unknown_upsert()
        # PostgreSQL: the swipe path's one-statement transaction (see swipes_pg.py).
        self._swipes_pg = (
            PgSwipeWriter(
                self._url.set(drivername="postgresql").render_as_string(hide_password=False),
                connect_timeout=connect_timeout,
                where=self._where,
            )
            if self._dialect == "postgresql"
            else None
        )

    @classmethod
    def from_url(cls, url: str, *, connect_timeout: float = 5.0, pool_size: int = 5) -> Repository:
        """A repository for a postgresql:// or sqlite:/// URL; connects lazily."""
        return cls(url, connect_timeout=connect_timeout, pool_size=pool_size)

    @property
    def url(self) -> str:
        """The database URL with the password hidden: safe to print and log."""
        return self._where

    @property
    def dialect(self) -> str:
        return self._dialect

    @property
    def swipe_lanes(self) -> int:
        """How many record_swipes transactions may usefully run at once.

        PostgreSQL: two, so that a swipe arriving while another reader's commit runs
        starts its own instead of waiting for it (a reader's next swipe only comes
        after its answer, so its order holds; the export's settle time covers ids
        committed out of order). SQLite has one writer: one.
        """
        return SWIPE_LANES if self._swipes_pg is not None else 1

    async def close(self) -> None:
        if self._swipes_pg is not None:
            await self._swipes_pg.close()
        await self._engine.dispose()

    # -- transactions --------------------------------------------------------------
    @asynccontextmanager
    async def _tx(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction; driver failures become DatabaseUnavailableError."""
        folder = self._sqlite_folder
        if folder is not None and not folder.is_dir():
            # Connecting would fail with a vaguer message (a stat is cheap enough here).
            raise DatabaseUnavailableError(
                f"no directory {folder} for the database: run 'clock-gateway db init'"
            )
        try:
            async with self._engine.connect() as conn:
                if write and self._dialect == "sqlite":
                    conn = await conn.execution_options(**{SQLITE_WRITE: True})
                async with conn.begin():
                    yield conn
        except (GatewayError, _DryRun):
            raise
        except IntegrityError as exc:
            # Callers check what they can first; this is the database's last word.
            raise InvalidInputError(f"refused by the database: {failures.reason(exc)}") from None
        except (SQLAlchemyError, OSError) as exc:
            if not failures.is_unavailable(exc):
                raise InvalidInputError(
                    f"refused by the database: {failures.reason(exc)}"
                ) from None
            _log().debug("database_error", url=self._where, error=failures.reason(exc))
            raise failures.unavailable(exc, self._where) from None

    # -- schema --------------------------------------------------------------------
    async def init_schema(self) -> None:
        """Create the schema if missing (schema.sql on PostgreSQL); safe to run again."""
        if self._dialect == "sqlite":
            if self._sqlite_folder is not None:
                try:
                    self._sqlite_folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseUnavailableError(
                        f"cannot create {self._sqlite_folder}: {exc.strerror}"
                    ) from None
            async with self._tx(write=True) as conn:
                await conn.run_sync(metadata.create_all)
                present = await conn.scalar(select(func.count()).select_from(schema_version))
                if not present:
                    await conn.execute(insert(schema_version).values(id=1, version=SCHEMA_VERSION))
        else:
            try:
                sql = resources.files("gateway.store").joinpath("schema.sql").read_text("utf-8")
            except OSError:
                raise GatewayError(
                    "schema.sql is missing from the installed package: reinstall clock-gateway"
                ) from None
            async with self._tx(write=True) as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INIT_LOCK_KEY})
                # Straight to psycopg without parameters: through SQLAlchemy, a '%' in
                # the file (a comment saying "100%") would be taken for a placeholder.
                driver = (await conn.get_raw_connection()).driver_connection
                if driver is None:  # only after the pool invalidated it
                    raise DatabaseUnavailableError(f"database {self._where}: connection lost")
                await driver.execute(sql)
        _log().info("schema_ready", url=self._where, version=SCHEMA_VERSION)

    async def check(self) -> int:
        """The schema version; DatabaseUnavailableError if unreachable or uninitialised."""
        path = sqlite_path(self._url)
        if path is not None and not path.exists():
            # Connecting would create an empty file; say what is wrong instead.
            raise DatabaseUnavailableError(
                f"no database file at {path}: run 'clock-gateway db init'"
            )
        async with self._tx() as conn:
            version = await conn.scalar(select(schema_version.c.version))
        if version is None:
            raise DatabaseUnavailableError(
                f"database {self._where} has an empty schema_version table: "
                "run 'clock-gateway db init'"
            )
        return int(version)

    # -- the swipe path ------------------------------------------------------------
    async def find_person_by_card(self, card_key: str) -> Person | None:
        """The active person holding this card now, or None."""
        key = normalise_card_key(card_key)
        query = (
            select(people.c.uid, people.c.name, people.c.active)
            .join(cards, cards.c.person_uid == people.c.uid)
            .where(cards.c.card_key == key, _ACTIVE_CARD, people.c.active.is_(True))
        )
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Person(uid=row.uid, name=row.name, active=row.active)

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
            async with self._tx(write=True) as conn:
                for start in range(0, len(checked), _INSERT_CHUNK):
                    chunk = checked[start : start + _INSERT_CHUNK]
                    # The prebuilt statement with a list of rows: compiled once, not
                    # once per batch as a statement with the rows inlined would be.
                    rows = [self._event_values(e) for e in chunk]
                    stored.update((await conn.execute(self._event_insert, rows)).scalars())
        except InvalidInputError:
            missing = await self._missing_uids({e.person_uid for e in checked})
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

    @staticmethod
    def _event_values(event: ClockEvent) -> dict[str, Any]:
        return {
            "event_key": event.event_key,
            "person_uid": event.person_uid,
            "card_key": event.card_key,
            "direction": event.direction.value,
            "reader": event.reader,
            "reader_hw_id": event.reader_hw_id,
            "received_at": event.received_at,
            "outcome": event.outcome.value,
        }

    async def record_swipes(self, swipes: Sequence[SwipeRecord]) -> list[Person | None]:
        """Look up and record a batch of swipes in ONE transaction; per swipe, the
        active holder of its card, or None.

        The holders of all the batch's cards are found and the known cards' events
        stored (idempotent on event_key, as record_events) in one transaction, so a
        revoked card is refused as soon as the revocation is committed. All or nothing
        for the events: on an error none is stored. Unknown cards go on the enrolment
        list (best effort: a failure there is logged and fails nothing). PostgreSQL:
        one statement (swipes_pg.py); SQLite: SELECT, INSERT, upserts, COMMIT.
        """
        if not swipes:
            return []
        checked = [validate.swipe_record(s) for s in swipes]
        if self._swipes_pg is None:
            return await self._record_swipes_core(checked)
        holders = await self._swipes_pg.record(checked)
        unknown = [s.unknown() for s, p in zip(checked, holders, strict=True) if p is None]
        if unknown:
            try:
                await self._record_unknowns(unknown)
            except GatewayError as exc:
                _log().warning("unknown_swipes_not_stored", cards=len(unknown), error=str(exc))
        return holders

    async def _record_swipes_core(self, checked: Sequence[SwipeRecord]) -> list[Person | None]:
        """record_swipes over SQLAlchemy: one transaction, several statements."""
        keys = [s.card_key for s in checked]
        async with self._tx(write=True) as conn:
            rows = await conn.execute(self._holders_query, {"keys": sorted(set(keys))})
            holders = {r.card_key: Person(uid=r.uid, name=r.name) for r in rows}
            events: list[dict[str, Any]] = []
            unknown: list[UnknownSwipe] = []
            for swipe in checked:
                person = holders.get(swipe.card_key)
                if person is not None:
                    events.append(self._event_values(swipe.event_for(person.uid)))
                elif (ok := self._checked_unknown(swipe.unknown())) is not None:
                    unknown.append(ok)
            if events:
                await conn.execute(self._event_insert, events)
            for one in unknown:
                await conn.execute(self._unknown_upsert, self._unknown_values(one))
        return [holders.get(key) for key in keys]

    async def _record_unknowns(self, swipes: Sequence[UnknownSwipe]) -> None:
        checked = [u for u in map(self._checked_unknown, swipes) if u is not None]
        if not checked:
            return
        async with self._tx(write=True) as conn:
            for one in checked:
                await conn.execute(self._unknown_upsert, self._unknown_values(one))

    @staticmethod
    def _checked_unknown(swipe: UnknownSwipe) -> UnknownSwipe | None:
        """The validated swipe, or None: a bad one must not fail the batch's events."""
        try:
            return validate.unknown_swipe(swipe)
        except InvalidInputError as exc:
            _log().warning("unknown_swipe_refused", card=swipe.card_key, error=str(exc))
            return None

    async def record_unknown(self, swipe: UnknownSwipe) -> None:
        """Add or refresh a card on the enrolment list."""
        s = validate.unknown_swipe(swipe)
        async with self._tx(write=True) as conn:
            await conn.execute(self._unknown_upsert, self._unknown_values(s))

    @staticmethod
    def _unknown_values(s: UnknownSwipe) -> dict[str, Any]:
        return {
            "card_key": s.card_key,
            "first_seen": s.seen_at,
            "last_seen": s.seen_at,
            "count": 1,
            "last_reader": s.reader,
            "last_reader_hw_id": s.reader_hw_id,
        }

    def _build_unknown_upsert(self) -> Any:
        stmt = self._insert(unknown_swipes)
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
            },
        )

    async def card_directory(self) -> dict[str, Person]:
        """Every active card of an active person: the daemon's offline directory."""
        query = (
            select(cards.c.card_key, people.c.uid, people.c.name, people.c.active)
            .join(people, cards.c.person_uid == people.c.uid)
            .where(_ACTIVE_CARD, people.c.active.is_(True))
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return {r.card_key: Person(uid=r.uid, name=r.name, active=r.active) for r in rows}

    # -- people and cards ----------------------------------------------------------
    async def add_person(self, uid: str, name: str) -> Person:
        uid, name = validate.uid(uid), validate.name(name)
        async with self._tx(write=True) as conn:
            await self._insert_person(conn, uid, name)
        return Person(uid=uid, name=name, active=True)

    async def _insert_person(self, conn: AsyncConnection, uid: str, name: str) -> None:
        existing = await conn.scalar(select(people.c.name).where(people.c.uid == uid))
        if existing is not None:
            raise ConflictError(f"a person with uid {uid!r} already exists ({existing})")
        try:
            async with conn.begin_nested():
                await conn.execute(insert(people).values(uid=uid, name=name))
        except IntegrityError:  # added by someone else since the check above
            raise ConflictError(f"a person with uid {uid!r} already exists") from None

    async def assign_card(self, card_key: str, uid: str) -> None:
        """Give a card to a person; a no-op if they already hold it."""
        key, uid = normalise_card_key(card_key), validate.uid(uid)
        async with self._tx(write=True) as conn:
            await self._assign(conn, key, uid)

    async def _assign(self, conn: AsyncConnection, key: str, uid: str) -> bool:
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
                .where(cards.c.card_key == key, _ACTIVE_CARD)
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

    async def revoke_card(self, card_key: str) -> str:
        """End the current assignment of a card; returns the former holder's uid."""
        key = normalise_card_key(card_key)
        stmt = (
            update(cards)
            .where(cards.c.card_key == key, _ACTIVE_CARD)
            .values(revoked_at=func.now())
            .returning(cards.c.person_uid)
        )
        async with self._tx(write=True) as conn:
            holder = (await conn.execute(stmt)).scalar()
        if holder is None:
            raise NotFoundError(f"card {key} is not assigned to anyone")
        return str(holder)

    async def people(self, *, without_card: bool = False) -> list[PersonRow]:
        """Everyone, with their active cards; only those with none if without_card."""
        query = (
            select(people.c.uid, people.c.name, people.c.active, cards.c.card_key)
            .outerjoin(cards, and_(cards.c.person_uid == people.c.uid, _ACTIVE_CARD))
            .order_by(people.c.uid, cards.c.card_key)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        result: dict[str, PersonRow] = {}
        for r in rows:
            row = result.setdefault(r.uid, PersonRow(r.uid, r.name, r.active, []))
            if r.card_key is not None:
                row.cards.append(r.card_key)
        return [p for p in result.values() if not (without_card and p.cards)]

    async def unknown_swipes(self, *, limit: int = 50) -> list[UnknownSwipeRow]:
        """Recent swipes of cards nobody holds, most recent first."""
        assigned = exists().where(cards.c.card_key == unknown_swipes.c.card_key, _ACTIVE_CARD)
        query = (
            select(unknown_swipes)
            .where(~assigned)
            .order_by(unknown_swipes.c.last_seen.desc(), unknown_swipes.c.card_key)
            .limit(max(0, limit))
        )
        async with self._tx() as conn:
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
            async with self._tx(write=True) as conn:
                for row in rows:
                    results.append(await self._import_row(conn, row))
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        return results

    async def _import_row(self, conn: AsyncConnection, row: PersonImport) -> ImportResult:
        try:
            uid, name = validate.uid(row.uid), validate.name(row.name)
            key = normalise_card_key(row.card_key) if row.card_key else None
            existing = await conn.scalar(select(people.c.name).where(people.c.uid == uid))
            if existing is None:
                await self._insert_person(conn, uid, name)
                person = "added"
            elif existing == name:
                person = "unchanged"
            else:
                raise ConflictError(f"uid {uid!r} already exists with name {existing!r}")
            card = None
            if key is not None:
                card = "assigned" if await self._assign(conn, key, uid) else "unchanged"
        except GatewayError as exc:
            raise type(exc)(f"line {row.line}: {exc.message}") from None
        return ImportResult(line=row.line, uid=uid, person=person, card=card)

    # -- events --------------------------------------------------------------------
    async def last_event(self, uid: str) -> StoredEvent | None:
        """The person's latest event by received time (whatever its outcome)."""
        query = (
            select(clock_events)
            .where(clock_events.c.person_uid == uid)
            .order_by(clock_events.c.received_at.desc(), clock_events.c.id.desc())
            .limit(1)
        )
        async with self._tx() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _stored_event(row)

    async def events_since(self, after_id: int, limit: int = 1000) -> list[StoredEvent]:
        """Events with id > after_id in id order: an export cursor."""
        query = (
            select(clock_events)
            .where(clock_events.c.id > after_id)
            .order_by(clock_events.c.id)
            .limit(max(0, limit))
        )
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_stored_event(r) for r in rows]

    async def events_between(
        self, start: datetime, end: datetime, uid: str | None = None
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
            if after is not None:
                query = query.where(
                    or_(
                        ev.received_at > after[0],
                        and_(ev.received_at == after[0], ev.id > after[1]),
                    )
                )
            query = query.order_by(ev.received_at, ev.id).limit(_STREAM_CHUNK)
            async with self._tx() as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                yield _stored_event(row)
            if len(rows) < _STREAM_CHUNK:
                return
            after = (rows[-1].received_at, rows[-1].id)

    async def swipes_between(
        self, start: datetime, end: datetime, uid: str | None = None
    ) -> AsyncIterator[SwipeFacts]:
        """The four columns reports need, for events received in [start, end).

        Unlike events_between this is one streamed SELECT (a server-side cursor on
        PostgreSQL; SQLite steps its cursor) yielding rows as they are: a report
        consumes them at once, and a year of a lab would otherwise spend seconds
        building StoredEvent objects and re-querying per chunk. It holds one
        snapshot for the few seconds of a report; on SQLite's WAL that never blocks
        the daemon's writes.
        """
        validate.aware(start, "start")
        validate.aware(end, "end")
        ev = clock_events.c
        query = (
            select(ev.person_uid, ev.direction, ev.received_at, ev.outcome)
            .where(ev.received_at >= start, ev.received_at < end)
            .order_by(ev.received_at, ev.id)
        )
        if uid is not None:
            query = query.where(ev.person_uid == uid)
        async with self._tx() as conn:
            result = await conn.stream(query.execution_options(yield_per=_REPORT_BATCH))
            async for batch in result.partitions():
                for row in batch:
                    yield row  # a Row already has the attributes: no copy per event

    async def database_now(self) -> datetime:
        """The database server's clock (what stamps stored_at), in UTC."""
        async with self._tx() as conn:
            now = await conn.scalar(select(type_coerce(func.now(), UtcDateTime)))
        if not isinstance(now, datetime):
            raise DatabaseUnavailableError(f"database {self._where} gave no current time")
        return now

    # -- timetable -----------------------------------------------------------------
    async def replace_timetable(
        self, entries: Sequence[TimetableEntry], *, uids: Collection[str] | None = None
    ) -> int:
        """Replace the whole timetable, or only these people's rows; one transaction.

        Returns the number of entries stored.
        """
        checked = [validate.timetable_entry(e) for e in entries]
        scope = None if uids is None else {validate.uid(u) for u in uids}
        if scope is not None:
            outside = sorted({e.person_uid for e in checked} - scope)
            if outside:
                raise InvalidInputError(
                    f"timetable entries for {', '.join(outside)} are outside the people replaced"
                )
        async with self._tx(write=True) as conn:
            wanted = {e.person_uid for e in checked} | (scope or set())
            missing = await self._missing_uids(wanted, conn)
            if missing:
                raise NotFoundError(f"no person with uid {', '.join(sorted(missing))}")
            remove = delete(timetable)
            if scope is not None:
                remove = remove.where(timetable.c.person_uid.in_(scope))
            await conn.execute(remove)
            for start in range(0, len(checked), _INSERT_CHUNK):
                await conn.execute(
                    insert(timetable),
                    [
                        {
                            "person_uid": e.person_uid,
                            "weekday": e.weekday,
                            "start_time": e.start,
                            "end_time": e.end,
                            "room": e.room,
                        }
                        for e in checked[start : start + _INSERT_CHUNK]
                    ],
                )
        return len(checked)

    async def timetable(
        self, *, uid: str | None = None, weekday: int | None = None
    ) -> list[TimetableEntry]:
        query = select(timetable).order_by(
            timetable.c.weekday, timetable.c.start_time, timetable.c.person_uid, timetable.c.id
        )
        if uid is not None:
            query = query.where(timetable.c.person_uid == uid)
        if weekday is not None:
            query = query.where(timetable.c.weekday == validate.weekday(weekday))
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [
            TimetableEntry(
                person_uid=r.person_uid,
                weekday=r.weekday,
                start=r.start_time,
                end=r.end_time,
                room=r.room,
            )
            for r in rows
        ]

    # -- helpers -------------------------------------------------------------------
    def _insert(self, table: Any) -> Any:
        """INSERT with ON CONFLICT support for the current dialect."""
        return (postgresql if self._dialect == "postgresql" else sqlite).insert(table)

    async def _missing_uids(
        self, uids: Collection[str], conn: AsyncConnection | None = None
    ) -> set[str]:
        if not uids:
            return set()
        query = select(people.c.uid).where(people.c.uid.in_(list(uids)))
        if conn is not None:
            return set(uids) - set((await conn.execute(query)).scalars())
        async with self._tx() as fresh:
            return set(uids) - set((await fresh.execute(query)).scalars())
