"""Schema versions: refusing the wrong one, and upgrading an old one step by step.

A step is a plain SQL file per backend, gateway/store/upgrades/<dialect>/NNNN_name.sql,
that takes the database from version NNNN - 1 to NNNN. Plain SQL rather than Alembic
because schema.sql is the reference: a fresh PostgreSQL database comes from it, a
fresh SQLite one from tables.py (which mirrors it), and the drift tests compare both
with an upgraded database. Generated migrations would be a third description of the
schema, in Python, of which the upgrade path is the only user.

Each step runs in its own transaction, which also re-reads the version and sets the
new one, so a step applies entirely or not at all, and two upgrades at once serialise:
on PostgreSQL under the advisory lock `db init` takes too, on SQLite under BEGIN
IMMEDIATE (one writer). SQLite steps run with foreign keys off, as its table-rebuild
recipe requires (the pragma is a no-op inside a transaction, so it is set before),
and PRAGMA foreign_key_check must find nothing before the step commits.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import ConflictError, DatabaseUnavailableError, GatewayError
from gateway.logs import get_logger
from gateway.store import failures
from gateway.store.engine import SQLITE_WRITE
from gateway.store.tables import SCHEMA_VERSION, schema_version

# Serialises `db init` and `db upgrade` runs on one PostgreSQL database.
SCHEMA_LOCK_KEY = 0x636C6F636B  # "clock"

_STEP_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


log = get_logger("store")


@dataclass(frozen=True)
class Step:
    """One upgrade step: takes a database from version - 1 to version."""

    version: int
    name: str  # the file name, e.g. 0002_fleet_admin_import.sql
    sql: str


@dataclass(frozen=True)
class UpgradeResult:
    from_version: int
    to_version: int
    steps: list[str]  # names of the steps applied, or that would be (dry run)
    dry_run: bool


def steps(dialect: str) -> list[Step]:
    """Every packaged step for a backend, in order, checked to be complete."""
    folder = resources.files("gateway.store").joinpath("upgrades", dialect)
    try:
        files = sorted(
            (f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name
        )
        found = [(f.name, f.read_text("utf-8")) for f in files]
    except OSError:
        found = []
    result = []
    for name, sql in found:
        match = _STEP_FILE.match(name)
        if match is None:
            raise GatewayError(f"upgrade step {dialect}/{name}: not named NNNN_name.sql")
        result.append(Step(int(match.group(1)), name, sql))
    # A gap or a missing file would leave a database half-way: refuse to start.
    if [s.version for s in result] != list(range(2, SCHEMA_VERSION + 1)):
        raise GatewayError(
            f"the installed clock-gateway lacks upgrade steps for {dialect} "
            f"(versions 2..{SCHEMA_VERSION}): reinstall clock-gateway"
        )
    return result


def require_current(version: int | None, where: str) -> int:
    """The version if this clock-gateway can use it; else the one-line reason why not."""
    if version is None:
        raise DatabaseUnavailableError(
            f"database {where} has an empty schema_version table: run 'clock-gateway db init'"
        )
    if version < SCHEMA_VERSION:
        raise DatabaseUnavailableError(
            f"database {where} has schema version {version}, this clock-gateway needs "
            f"{SCHEMA_VERSION}: run 'clock-gateway db upgrade'"
        )
    if version > SCHEMA_VERSION:
        raise _too_new(version, where)
    return version


def _too_new(version: int, where: str) -> DatabaseUnavailableError:
    return DatabaseUnavailableError(
        f"database {where} has schema version {version}, newer than this clock-gateway "
        f"knows ({SCHEMA_VERSION}): upgrade clock-gateway"
    )


async def stored_version(conn: AsyncConnection) -> int | None:
    """The schema version in the database, or None if it has no schema_version table
    (or an empty one). Runs in the caller's transaction."""
    if not await conn.run_sync(lambda sync: inspect(sync).has_table("schema_version")):
        return None
    version = await conn.scalar(select(schema_version.c.version))
    return None if version is None else int(version)


async def refuse_other_version(conn: AsyncConnection, where: str) -> None:
    """For `db init`, in its transaction: a database that has a schema of another
    version is not touched (applying the current schema to an old one would create
    the new tables and skip the new columns)."""
    version = await stored_version(conn)
    if version is not None and version != SCHEMA_VERSION:
        require_current(version, where)


async def lock(conn: AsyncConnection, dialect: str) -> None:
    """Hold the schema lock until the transaction ends (PostgreSQL; SQLite's
    BEGIN IMMEDIATE is its own lock)."""
    if dialect == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK_KEY})


async def upgrade(
    conn: AsyncConnection, dialect: str, where: str, *, dry_run: bool = False
) -> UpgradeResult:
    """Bring the database to SCHEMA_VERSION, one transaction per step.

    conn must not be in a transaction. Refuses, before changing anything, a database
    without a schema or with a newer one. Another upgrade running at the same time
    waits for this one's step and then finds less (or nothing) to do.
    """
    todo = steps(dialect)
    if dialect == "sqlite":
        conn = await conn.execution_options(**{SQLITE_WRITE: True})
    start: int | None = None
    applied: list[str] = []
    while True:
        step = None
        began = time.monotonic()
        async with _step_transaction(conn, dialect):
            await lock(conn, dialect)
            version = await stored_version(conn)
            if version is None:
                raise DatabaseUnavailableError(
                    f"database {where} has no clock-gateway schema: run 'clock-gateway db init'"
                )
            if version > SCHEMA_VERSION:
                raise _too_new(version, where)
            start = version if start is None else start
            pending = [s for s in todo if s.version > version]
            if dry_run:
                return UpgradeResult(version, version, [s.name for s in pending], True)
            if pending:
                step = pending[0]
                await _apply(conn, dialect, step, version, where)
        if step is None:
            return UpgradeResult(start, SCHEMA_VERSION, applied, False)
        applied.append(step.name)
        log.info(
            "schema_upgraded",
            url=where,
            step=step.name,
            version=step.version,
            seconds=round(time.monotonic() - began, 3),
        )


@asynccontextmanager
async def _step_transaction(conn: AsyncConnection, dialect: str) -> AsyncIterator[None]:
    """One transaction for one step; on SQLite with foreign keys off around it."""
    sqlite = dialect == "sqlite"
    if sqlite:
        await _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
    try:
        async with conn.begin():
            yield
    finally:
        if sqlite and not conn.invalidated:
            await _sqlite_pragma(conn, "PRAGMA foreign_keys=ON")


async def _sqlite_pragma(conn: AsyncConnection, pragma: str) -> None:
    # Through the driver, outside any transaction: SQLAlchemy would begin one first.
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None:
        raise DatabaseUnavailableError("database connection lost")
    cursor = await driver.execute(pragma)
    await cursor.close()


async def _apply(conn: AsyncConnection, dialect: str, step: Step, version: int, where: str) -> None:
    """Run one step in the open transaction and set the new version."""
    try:
        if dialect == "postgresql":
            # Straight to psycopg, whole file at once, no parameters: dollar-quoted
            # function bodies stay intact and a '%' is no placeholder.
            driver = (await conn.get_raw_connection()).driver_connection
            if driver is None:
                raise DatabaseUnavailableError(f"database {where}: connection lost")
            await driver.execute(step.sql)
        else:
            for statement in sqlite_statements(step.sql):
                await conn.exec_driver_sql(statement)
            broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).first()
            if broken is not None:
                table, rowid, parent = tuple(broken)[:3]
                raise ConflictError(
                    f"upgrade step {step.name} would leave {table} row {rowid} pointing "
                    f"to a missing {parent} row; database {where} stays at version {version}"
                )
        await conn.execute(
            update(schema_version).values(version=step.version, applied_at=_now(dialect))
        )
    except GatewayError:
        raise
    except (SQLAlchemyError, psycopg.Error, sqlite3.Error) as exc:
        raise _step_failed(exc, step, version, where) from None


def _now(dialect: str) -> Any:
    # CURRENT_TIMESTAMP is UTC text on SQLite, which UtcDateTime reads back as UTC.
    return text("now()") if dialect == "postgresql" else text("CURRENT_TIMESTAMP")


def _step_failed(exc: BaseException, step: Step, version: int, where: str) -> GatewayError:
    original = getattr(exc, "orig", None) or exc
    message = (
        f"upgrade step {step.name} failed, database {where} stays at version {version}: "
        f"{failures.reason(original)}"
    )
    if isinstance(original, psycopg.IntegrityError | sqlite3.IntegrityError):
        return ConflictError(message)  # the stored data breaks a new rule
    return DatabaseUnavailableError(message)


def sqlite_statements(script: str) -> list[str]:
    """A SQLite script as single statements (executescript would commit first)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if not current and (not line.strip() or line.lstrip().startswith("--")):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise GatewayError(f"upgrade script ends inside a statement: {current.strip()[:60]!r}")
    return statements
