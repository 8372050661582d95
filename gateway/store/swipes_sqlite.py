"""SQLite's swipe path: a batch of swipes in one call to a thread that keeps one
connection open.

Why not the async engine: over SQLAlchemy and aiosqlite, every step of the swipe's
transaction (the pool's checkout and reset, BEGIN, each statement, its cursor and
its fetch, COMMIT) is a hop of its own between the event loop and aiosqlite's
thread, about 13 a swipe, each waking both threads, plus SQLAlchemy's work per
statement: 3.3 ms a swipe where the INSERT and its COMMIT take 0.24 ms. Here the
whole transaction (BEGIN IMMEDIATE, the holders' lookups, the INSERT, the enrolment
list's upserts, COMMIT) runs on one thread in one call: one hand-over each way.

Nothing is given up. The statements are SQLAlchemy's, compiled once from the same
tables (and the one ACTIVE_CARD), and values are bound through the columns' own
bind processors, so the rows are those the Core path stores. The connection has the
engine's pragmas (engine.py): WAL and synchronous=FULL, so COMMIT returns once the
WAL is fsync'd and the reader's OK is true; BEGIN IMMEDIATE waits for another writer
(the sealer, the web) within busy_timeout. Errors become the store's: a refused row
InvalidInputError (the group writer then writes the batch one by one), anything else
DatabaseUnavailableError (the recorder spools), after which the connection is
reopened.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from gateway import trace
from gateway.domain import ClockEvent, Person, UnknownSwipe
from gateway.errors import DatabaseUnavailableError, InvalidInputError
from gateway.store import failures
from gateway.store.holdings import ACTIVE_CARD
from gateway.store.tables import cards, people

# Named parameters: the values go in as dicts keyed by column.
_DIALECT = sqlite.dialect(paramstyle="named")

EVENT_COLUMNS = (
    "event_key",
    "person_uid",
    "card_key",
    "direction",
    "reader",
    "reader_hw_id",
    "received_at",
    "outcome",
    "gateway_id",
)
UNKNOWN_COLUMNS = (
    "card_key",
    "first_seen",
    "last_seen",
    "count",
    "last_reader",
    "last_reader_hw_id",
    "last_gateway_id",
)


@dataclass(frozen=True)
class Compiled:
    """A statement as SQLAlchemy compiles it for SQLite, and how to bind its values."""

    sql: str
    fixed: Mapping[str, Any]  # binds SQLAlchemy made of literals (the upsert's "+ 1")
    processors: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, statement: ClauseElement, values: Sequence[str], *, insert: bool) -> Compiled:
        """`values`: the names the caller binds (an INSERT's columns); any other bind
        is one SQLAlchemy made of a literal, bound with its value."""
        compiled = cast(
            SQLCompiler,
            statement.compile(dialect=_DIALECT, column_keys=list(values) if insert else None),
        )
        fixed = {n: v for n, v in compiled.params.items() if n not in values}
        processors = {}
        for name in compiled.params:
            process = compiled.binds[name].type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            if process is not None:
                processors[name] = process
        return cls(compiled.string, fixed, processors)

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {**self.fixed, **values}
        for name, process in self.processors.items():
            out[name] = process(out[name])
        return out


class SqliteSwipeWriter:
    """record(): look up and store a batch of swipes in one transaction on its thread."""

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        event_insert: ClauseElement,
        unknown_upsert: ClauseElement,
        unavailable: Callable[[BaseException], DatabaseUnavailableError],
    ) -> None:
        self._path = path
        self._timeout = timeout
        self._unavailable = unavailable
        # The card's active holder: the IN of the Core path, one key at a time (the
        # prepared statement is reused; a batch is mostly one or a few cards).
        self._holder = Compiled.of(
            select(cards.c.card_key, people.c.uid, people.c.name)
            .join(people, cards.c.person_uid == people.c.uid)
            .where(cards.c.card_key == bindparam("key"), ACTIVE_CARD, people.c.active.is_(True)),
            ("key",),
            insert=False,
        )
        self._insert = Compiled.of(event_insert, EVENT_COLUMNS, insert=True)
        self._upsert = Compiled.of(unknown_upsert, UNKNOWN_COLUMNS, insert=True)
        # Created on first use: a command that never records a swipe starts no thread.
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used on the executor's thread only

    async def record(
        self, swipes: Sequence[ClockEvent], unknown: Callable[[ClockEvent], UnknownSwipe | None]
    ) -> list[Person | None]:
        """Per swipe its card's active holder, or None; the known cards' events stored
        and `unknown(swipe)` (None: skip it) upserted on the enrolment list, in one
        transaction."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="swipes-sqlite")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._record, list(swipes), unknown)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._close)
        executor.shutdown(wait=False)

    # -- on the writer's thread ------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            # mode=rw: a missing file is an error here, never a new empty database.
            conn = sqlite3.connect(
                f"{self._path.resolve().as_uri()}?mode=rw",
                uri=True,
                timeout=self._timeout,
                isolation_level=None,  # this code says where transactions start
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _record(
        self, swipes: list[ClockEvent], unknown: Callable[[ClockEvent], UnknownSwipe | None]
    ) -> list[Person | None]:
        try:
            conn = self._connect()
            if trace.ON:
                for swipe in swipes:
                    trace.stamp(str(swipe.event_key), "sent")
            conn.execute("BEGIN IMMEDIATE")
            try:
                holders = self._transaction(conn, swipes, unknown)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if trace.ON:
                for swipe in swipes:
                    trace.stamp(str(swipe.event_key), "committed")
        except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
            raise InvalidInputError(f"refused by the database: {failures.reason(exc)}") from None
        except sqlite3.Error as exc:
            self._close()  # the next batch starts on a fresh connection
            raise self._unavailable(exc) from None
        return [holders.get(s.card_key) for s in swipes]

    def _transaction(
        self,
        conn: sqlite3.Connection,
        swipes: list[ClockEvent],
        unknown: Callable[[ClockEvent], UnknownSwipe | None],
    ) -> dict[str, Person]:
        holders: dict[str, Person] = {}
        for key in sorted({s.card_key for s in swipes}):
            found = conn.execute(self._holder.sql, {"key": key}).fetchone()
            if found is not None:
                holders[key] = Person(uid=found[1], name=found[2])
        events, unknowns = [], []
        for swipe in swipes:
            person = holders.get(swipe.card_key)
            if person is not None:
                events.append(self._insert.params(event_values(swipe.with_person(person.uid))))
            elif (one := unknown(swipe)) is not None:
                unknowns.append(self._upsert.params(unknown_values(one)))
        if events:
            conn.executemany(self._insert.sql, events)
        if unknowns:  # in order: a card twice in the batch counts twice
            conn.executemany(self._upsert.sql, unknowns)
        return holders


def event_values(event: ClockEvent) -> dict[str, Any]:
    return {
        "event_key": event.event_key,
        "person_uid": event.person_uid,
        "card_key": event.card_key,
        "direction": event.direction.value,
        "reader": event.reader,
        "reader_hw_id": event.reader_hw_id,
        "received_at": event.received_at,
        "outcome": event.outcome.value,
        "gateway_id": event.gateway_id,
    }


def unknown_values(s: UnknownSwipe) -> dict[str, Any]:
    return {
        "card_key": s.card_key,
        "first_seen": s.seen_at,
        "last_seen": s.seen_at,
        "count": 1,
        "last_reader": s.reader,
        "last_reader_hw_id": s.reader_hw_id,
        "last_gateway_id": s.gateway_id,
    }
