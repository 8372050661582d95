"""Writes of the importers (the grid timetable sheet, the original system's database).

`apply` puts people, cards and a timetable in ONE transaction, so a sheet that
creates people never leaves them without their rows; it rewrites a person's
timetable only when it differs, so importing the same data again changes nothing.
`record_imported` stores imported events idempotently (a row whose event key or
(source, source_id) is there already is skipped), one transaction per batch: an
import of millions of rows interrupted half-way resumes by running it again. How a
batch travels: gateway/store/imported_events.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import ConflictError, DatabaseUnavailableError
from gateway.store import imported_events, validate
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.holdings import ACTIVE_CARD
from gateway.store.imported_events import ImportedRow
from gateway.store.models import TimetableEntry
from gateway.store.tables import cards, people, timetable

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

    async def existing_imported(self, rows: Sequence[ImportedRow]) -> set[str]:
        """The event keys of these rows that are stored already (a dry run's count)."""
        found: set[str] = set()
        async with self._db.tx() as conn:
            driver = await self._driver(conn)
            for part in _chunks(rows):
                if self._db.dialect == "postgresql":
                    async with driver.cursor() as cur:
                        keys, refs = await imported_events.pg_existing(cur, part)
                else:
                    keys, refs = await imported_events.sqlite_existing(driver, part)
                found.update(r[0] for r in part if r[0] in keys or r[9] in refs)
        return found

    async def record_imported(self, rows: Sequence[ImportedRow]) -> int:
        """Store imported events in one transaction; returns how many were new.

        The rows already there (same event key or source id) are skipped, so an
        import run again changes nothing: gateway/store/imported_events.py. (Was
        one JSON text through json_to_recordset: 3,600 rows/s at a million rows;
        then COPY into a staging table and INSERT ... SELECT ... ON CONFLICT DO
        NOTHING: 14,000 rows/s.)
        """
        if not rows:
            return 0
        async with self._db.tx(write=True) as conn:
            driver = await self._driver(conn)
            if self._db.dialect == "postgresql":
                return await imported_events.pg_write(driver, rows, self._db.url)
            return await imported_events.sqlite_write(driver, rows, self._db.url)

    async def _driver(self, conn: AsyncConnection) -> Any:
        driver = (await conn.get_raw_connection()).driver_connection
        if driver is None:  # only after the pool invalidated it
            raise DatabaseUnavailableError(f"database {self._db.url}: connection lost")
        return driver


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = _CHUNK) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
