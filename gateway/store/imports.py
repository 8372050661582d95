"""Writes of the importers (the grid timetable sheet, the original system's database).

`apply` puts people, cards and a timetable in ONE transaction, so a sheet that
creates people never leaves them without their rows; it rewrites a person's
timetable only when it differs, so importing the same data again changes nothing.
`record_imported` stores imported events idempotently (ON CONFLICT DO NOTHING on
the event key and on (source, source_id)), one transaction per batch: an import of
millions of rows interrupted half-way resumes by running it again. On PostgreSQL a
batch travels by COPY into a temporary staging table, then one INSERT ... SELECT
... ON CONFLICT DO NOTHING moves it (COPY itself cannot skip rows already there).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from sqlalchemy import delete, insert, select

from gateway.errors import ConflictError, DatabaseUnavailableError, InvalidInputError
from gateway.store import failures, validate
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.holdings import ACTIVE_CARD
from gateway.store.models import TimetableEntry
from gateway.store.tables import cards, clock_events, people, timetable

_CHUNK = 500  # rows per statement, far below both databases' parameter limits


@dataclass(frozen=True)
class Snapshot:
    people: dict[str, str]  # uid -> name
    holders: dict[str, str]  # active card key -> uid


@dataclass(frozen=True)
class AuditNote:
    """The audit row an import writes in its own transaction (a web upload's)."""

    actor: Actor
    action: str
    target: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True)
class Applied:
    people_added: int
    cards_added: int
    timetable_rows: int  # rows the people in scope have now
    timetable_changed: int  # people whose rows were rewritten
    changed_people: tuple[str, ...] = ()  # their uids


class ImportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def snapshot(self) -> Snapshot:
        async with self._db.tx() as conn:
            names = (await conn.execute(select(people.c.uid, people.c.name))).all()
            held = (
                await conn.execute(select(cards.c.card_key, cards.c.person_uid).where(ACTIVE_CARD))
            ).all()
        return Snapshot({r.uid: r.name for r in names}, {r.card_key: r.person_uid for r in held})

    async def timetable_of(self, uids: Collection[str]) -> dict[str, Counter[TimetableEntry]]:
        """The stored rows of these people, as multisets (order carries no meaning)."""
        out: dict[str, Counter[TimetableEntry]] = {u: Counter() for u in uids}
        async with self._db.tx() as conn:
            for part in _chunks(sorted(uids)):
                rows = await conn.execute(select(timetable).where(timetable.c.person_uid.in_(part)))
                for r in rows:
                    out[r.person_uid][
                        TimetableEntry(r.person_uid, r.weekday, r.start_time, r.end_time, r.room)
                    ] += 1
        return out

    async def changed(
        self, entries: Sequence[TimetableEntry], scope: Collection[str] = ()
    ) -> list[str]:
        """The people (in `scope` or with entries) whose stored rows differ from these."""
        wanted: dict[str, Counter[TimetableEntry]] = {u: Counter() for u in scope}
        for entry in entries:
            wanted.setdefault(entry.person_uid, Counter())[entry] += 1
        current = await self.timetable_of(wanted)
        return sorted(u for u in wanted if wanted[u] != current.get(u))

    async def apply(
        self,
        *,
        add_people: Sequence[tuple[str, str]] = (),
        add_cards: Sequence[tuple[str, str]] = (),
        entries: Sequence[TimetableEntry] = (),
        scope: Collection[str] = (),
        audit: AuditNote | None = None,
    ) -> Applied:
        """Add people and cards, and make the timetable of the people in `scope` be
        `entries`, in one transaction (all or nothing), with `audit`'s row in it."""
        new_people = [(validate.uid(u), validate.name(n)) for u, n in add_people]
        checked = [validate.timetable_entry(e) for e in entries]
        # Read before the write transaction: on SQLite a reader inside the writer's
        # transaction is fine, but a separate read keeps the write short.
        changed = await self.changed(checked, scope)
        async with self._db.tx(write=True) as conn:
            for batch in _chunks(new_people):
                await conn.execute(insert(people), [{"uid": u, "name": n} for u, n in batch])
            keys = dict(add_cards)
            for part in _chunks(sorted(keys)):
                held = await conn.execute(
                    select(cards.c.card_key, cards.c.person_uid).where(
                        cards.c.card_key.in_(part), ACTIVE_CARD
                    )
                )
                for key, holder in held:
                    if holder != keys[key]:
                        raise ConflictError(
                            f"card {key} was just given to {holder}: run the import again"
                        )
                    del keys[key]
            for batch in _chunks(sorted(keys.items())):
                await conn.execute(
                    insert(cards), [{"card_key": k, "person_uid": u} for k, u in batch]
                )
            for uids in _chunks(changed):
                await conn.execute(delete(timetable).where(timetable.c.person_uid.in_(uids)))
            rewrite = set(changed)
            rows = [
                {
                    "person_uid": e.person_uid,
                    "weekday": e.weekday,
                    "start_time": e.start,
                    "end_time": e.end,
                    "room": e.room,
                }
                for e in checked
                if e.person_uid in rewrite
            ]
            for chunk in _chunks(rows):
                await conn.execute(insert(timetable), chunk)
            if audit is not None:
                await write_audit(conn, audit.actor, audit.action, audit.target, audit.details)
        return Applied(len(new_people), len(keys), len(checked), len(changed), tuple(changed))

    async def existing_event_keys(self, keys: Collection[uuid.UUID]) -> set[uuid.UUID]:
        found: set[uuid.UUID] = set()
        async with self._db.tx() as conn:
            for part in _chunks(list(keys)):
                query = select(clock_events.c.event_key).where(clock_events.c.event_key.in_(part))
                found.update((await conn.execute(query)).scalars())
        return found

    async def record_imported(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Store imported events in one transaction; returns how many were new.

        PostgreSQL: the batch is rendered as COPY text in one piece and copied into
        a staging table that lives for this transaction only (ON COMMIT DROP), then
        moved by one INSERT ... SELECT ... ON CONFLICT DO NOTHING; on a refusal the
        transaction rolls back whole, staging table included. (Was one JSON text
        through json_to_recordset: 3,600 rows/s at a million rows.)
        SQLite: multi-row INSERT ... ON CONFLICT DO NOTHING statements of
        _SQLITE_ROWS rows each, as plain text with ? placeholders, run straight on
        the driver's cursor (SQLAlchemy's compile and row processing per batch cost
        more than SQLite's insert).
        """
        if not rows:
            return 0
        async with self._db.tx(write=True) as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            if driver is None:  # only after the pool invalidated it
                raise DatabaseUnavailableError(f"database {self._db.url}: connection lost")
            if self._db.dialect == "postgresql":
                return await self._copy_imported(driver, rows)
            return await _sqlite_insert(driver, rows, self._sqlite_binders())

    def _sqlite_binders(self) -> list[Callable[[Any], Any] | None]:
        """Each column's bind processor for this dialect: the values go in exactly as
        SQLAlchemy's own INSERT would store them (a UUID as its hex, a time as UTC
        text), so that the keys of a second run compare equal."""
        dialect = self._db.engine.dialect
        return [
            clock_events.c[c].type.dialect_impl(dialect).bind_processor(dialect)
            for c in _EVENT_COLUMNS
        ]

    async def _copy_imported(self, driver: Any, rows: Sequence[Mapping[str, Any]]) -> int:
        data = copy_text(rows)
        try:
            async with driver.cursor() as cur:
                await cur.execute(_PG_STAGE)
                async with cur.copy(_PG_COPY) as copy:
                    await copy.write(data)
                await cur.execute(_PG_MOVE)
                return int(cur.rowcount)
        except (psycopg.IntegrityError, psycopg.DataError) as exc:
            raise InvalidInputError(f"refused by the database: {failures.reason(exc)}") from None
        except psycopg.Error as exc:
            raise failures.unavailable(exc, self._db.url) from None


# The columns an imported event sets (the rest take their defaults), with their types.
_EVENT_COLUMNS = {
    "event_key": "uuid",
    "person_uid": "text",
    "card_key": "text",
    "direction": "text",
    "reader": "text",
    "reader_hw_id": "text",
    "received_at": "timestamptz",
    "outcome": "text",
    "source": "text",
    "source_id": "text",
}


_NAMES = ", ".join(_EVENT_COLUMNS)
_STAGE = "clock_gateway_import_stage"
_PG_STAGE = (
    f"CREATE TEMPORARY TABLE {_STAGE} "
    f"({', '.join(f'{c} {t}' for c, t in _EVENT_COLUMNS.items())}) ON COMMIT DROP"
)
_PG_COPY = f"COPY {_STAGE} ({_NAMES}) FROM STDIN"
_PG_MOVE = (
    f"INSERT INTO clock_events ({_NAMES}) SELECT {_NAMES} FROM {_STAGE} ON CONFLICT DO NOTHING"
)
# COPY's text format: tab-separated, \N for NULL, backslash escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)  # a datetime's str is ISO 8601 with its offset
    # Nearly every value needs no escape: two C-speed checks instead of a translate.
    if text.isprintable() and "\\" not in text:
        return text
    return text.translate(_COPY_ESCAPES)


def copy_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Imported event rows as COPY text, columns in EVENT_COLUMNS order (the
    benchmark's floor copies the same text)."""
    return "".join(["\t".join([_copy_value(r[c]) for c in _EVENT_COLUMNS]) + "\n" for r in rows])


EVENT_COLUMNS = tuple(_EVENT_COLUMNS)


# Rows per SQLite statement: 10 parameters each, below SQLite's 32,766 per statement.
_SQLITE_ROWS = 1000
_SQLITE_ONE = "(" + ", ".join("?" * len(_EVENT_COLUMNS)) + ")"


async def _sqlite_insert(
    driver: Any, rows: Sequence[Mapping[str, Any]], binders: list[Callable[[Any], Any] | None]
) -> int:
    """Multi-row INSERTs on the aiosqlite connection; returns the rows inserted."""
    columns = list(zip(_EVENT_COLUMNS, binders, strict=True))
    values = [tuple([r[c] if bind is None else bind(r[c]) for c, bind in columns]) for r in rows]
    added = 0
    cursor = await driver.cursor()
    try:
        for part in _chunks(values, _SQLITE_ROWS):
            sql = (
                f"INSERT INTO clock_events ({_NAMES}) VALUES "
                f"{', '.join([_SQLITE_ONE] * len(part))} ON CONFLICT DO NOTHING"
            )
            await cursor.execute(sql, [v for row in part for v in row])
            added += cursor.rowcount
    finally:
        await cursor.close()
    return added


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = _CHUNK) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
