"""Imported events in bulk: their row shape, their text for each database, the writes.

An importer hands over plain tuples in EVENT_COLUMNS order with received_at as
unix seconds (UTC): at a million rows, a dict or a datetime per row cost more than
the database's insert. Everything here is per batch, inside the caller's
transaction.

PostgreSQL: one look-up finds the batch's events already stored (by event key or by
source id, both indexed); the rest goes by COPY straight into clock_events, so its
checks, foreign key, indexes and triggers apply as to any insert, the NOTIFY trigger
once per statement. A writer racing us between the look-up and the COPY makes the
COPY fail on a unique index: we roll back to a savepoint taken just before it and
take the slow path (COPY into a staging table, then INSERT ... ON CONFLICT DO
NOTHING). SQLite: one executemany of a one-row INSERT ... ON CONFLICT DO NOTHING,
the loop in the driver's C code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors

from gateway.errors import InvalidInputError
from gateway.store import failures

# The columns an imported event sets (the rest take their defaults), with their types.
_COLUMN_TYPES = {
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
EVENT_COLUMNS = tuple(_COLUMN_TYPES)

# event_key (32 hex digits), person_uid, card_key, direction, reader, reader_hw_id,
# received_at (unix seconds), outcome, source, source_id.
ImportedRow = tuple[str, str, str, str, str, str | None, int, str, str, str]

_NAMES = ", ".join(EVENT_COLUMNS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# -- text ------------------------------------------------------------------------------
# COPY's text format: tab-separated, \N for NULL, backslash escapes.
_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TIMES: dict[int, str] = {}  # second of the day -> 'HH:MM:SS'; at most 86,400 entries


def _escaped(text: str) -> str:
    # Nearly every value needs no escape: two C-speed checks instead of a translate.
    if text.isprintable() and "\\" not in text:
        return text
    return text.translate(_COPY_ESCAPES)


def _day(days: dict[int, str], day: int) -> str:
    date = _EPOCH + timedelta(days=day)
    text = days[day] = f"{date.year:04d}-{date.month:02d}-{date.day:02d} "
    return text


def _time(second: int) -> str:
    hour, rest = divmod(second, 3600)
    text = _TIMES[second] = f"{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return text


def copy_text(rows: Sequence[ImportedRow]) -> str:
    """The rows as COPY text, columns in EVENT_COLUMNS order (the benchmark's floor
    copies the same text). Values that repeat (people, readers) are escaped once."""
    seen: dict[str, str] = {}
    days: dict[int, str] = {}
    times = _TIMES
    lines: list[str] = []
    append = lines.append
    for key, uid, card, direction, reader, hw, stamp, outcome, source, ref in rows:
        day, second = divmod(stamp, 86400)
        at = (days.get(day) or _day(days, day)) + (times.get(second) or _time(second))
        append(
            f"{_escaped(key)}\t{seen.get(uid) or seen.setdefault(uid, _escaped(uid))}\t"
            f"{seen.get(card) or seen.setdefault(card, _escaped(card))}\t"
            f"{seen.get(direction) or seen.setdefault(direction, _escaped(direction))}\t"
            f"{seen.get(reader) or seen.setdefault(reader, _escaped(reader))}\t"
            f"{_NULL if hw is None else _escaped(hw)}\t{at}+00\t"
            f"{seen.get(outcome) or seen.setdefault(outcome, _escaped(outcome))}\t"
            f"{seen.get(source) or seen.setdefault(source, _escaped(source))}\t"
            f"{_escaped(ref)}\n"
        )
    return "".join(lines)


def sqlite_values(rows: Sequence[ImportedRow]) -> list[tuple[Any, ...]]:
    """The rows as SQLite stores them through SQLAlchemy (tables.py): the key as its
    32 hex digits, the time as naive UTC text with microseconds, so that a second
    run's keys and a report's reads compare equal (tests check against SQLAlchemy's
    own bind processors)."""
    days: dict[int, str] = {}
    times = _TIMES
    out: list[tuple[Any, ...]] = []
    append = out.append
    for key, uid, card, direction, reader, hw, stamp, outcome, source, ref in rows:
        day, second = divmod(stamp, 86400)
        at = (days.get(day) or _day(days, day)) + (times.get(second) or _time(second))
        append((key, uid, card, direction, reader, hw, f"{at}.000000", outcome, source, ref))
    return out


# -- PostgreSQL ------------------------------------------------------------------------
_PG_THERE = (
    "SELECT replace(event_key::text, '-', ''), source_id FROM clock_events "
    "WHERE event_key = ANY(%s::uuid[]) OR (source = 'import' AND source_id = ANY(%s::text[]))"
)
_PG_COPY = f"COPY clock_events ({_NAMES}) FROM STDIN"
_SAVEPOINT = "clock_gateway_import"
_STAGE = "clock_gateway_import_stage"
_PG_STAGE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} "
    f"({', '.join(f'{c} {t}' for c, t in _COLUMN_TYPES.items())}) ON COMMIT DROP"
)
_PG_STAGE_COPY = f"COPY {_STAGE} ({_NAMES}) FROM STDIN"
_PG_MOVE = (
    f"INSERT INTO clock_events ({_NAMES}) SELECT {_NAMES} FROM {_STAGE} ON CONFLICT DO NOTHING"
)


async def pg_existing(cur: Any, rows: Sequence[ImportedRow]) -> tuple[set[str], set[str]]:
    """The event keys and source ids of these rows that clock_events holds already."""
    await cur.execute(_PG_THERE, ([r[0] for r in rows], [r[9] for r in rows if r[8] == "import"]))
    found = await cur.fetchall()
    return {k for k, _ in found}, {s for _, s in found if s is not None}


async def pg_write(driver: Any, rows: Sequence[ImportedRow], where: str) -> int:
    """Store the rows not there yet, in the caller's transaction; returns how many."""
    try:
        async with driver.cursor() as cur:
            keys, refs = await pg_existing(cur, rows)
            fresh = [r for r in rows if r[0] not in keys and r[9] not in refs] if keys else rows
            if not fresh:
                return 0
            data = copy_text(fresh)
            await cur.execute(f"SAVEPOINT {_SAVEPOINT}")
            try:
                async with cur.copy(_PG_COPY) as copy:
                    await copy.write(data)
            except errors.UniqueViolation:
                # Someone stored some of them since the look-up: skip what is there.
                await cur.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                await cur.execute(_PG_STAGE)
                async with cur.copy(_PG_STAGE_COPY) as copy:
                    await copy.write(data)
                await cur.execute(_PG_MOVE)
                return int(cur.rowcount)
            return len(fresh)
    except (psycopg.IntegrityError, psycopg.DataError) as exc:
        raise InvalidInputError(f"refused by the database: {failures.reason(exc)}") from None
    except psycopg.Error as exc:
        raise failures.unavailable(exc, where) from None


# -- SQLite ----------------------------------------------------------------------------
_SQLITE_INSERT = (
    f"INSERT INTO clock_events ({_NAMES}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))}) "
    "ON CONFLICT DO NOTHING"
)


async def sqlite_write(driver: Any, rows: Sequence[ImportedRow], where: str) -> int:
    """Store the rows not there yet on the aiosqlite connection; returns how many."""
    try:
        cursor = await driver.executemany(_SQLITE_INSERT, sqlite_values(rows))
    except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
        # The raw driver's errors, not SQLAlchemy's: Database.tx would not know them.
        raise InvalidInputError(f"refused by the database: {failures.reason(exc)}") from None
    except sqlite3.Error as exc:
        raise failures.unavailable(exc, where) from None
    try:
        return int(cursor.rowcount)
    finally:
        await cursor.close()


async def sqlite_existing(driver: Any, rows: Sequence[ImportedRow]) -> tuple[set[str], set[str]]:
    """As pg_existing, for at most a few hundred rows (SQLite's parameter limit)."""
    marks = ", ".join("?" * len(rows))
    cursor = await driver.execute(
        f"SELECT event_key, source_id FROM clock_events WHERE event_key IN ({marks}) "
        f"OR (source = 'import' AND source_id IN ({marks}))",
        [r[0] for r in rows] + [r[9] for r in rows],
    )
    try:
        found = await cursor.fetchall()
    finally:
        await cursor.close()
    return {k for k, _ in found}, {s for _, s in found if s is not None}
