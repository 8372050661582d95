"""The database: one engine, its transactions and its schema, on PostgreSQL or SQLite.

Built on SQLAlchemy Core over an async engine (see engine.py for why async). The
stores (swipes.py, people.py, timetable.py, events.py) each run their queries through
`Database.tx()`, one transaction per public method. Failures reach callers as
gateway.errors types with one-line messages: DatabaseUnavailableError when the
database cannot be used (unreachable, wrong password, no schema), so the daemon can
fall back to its spool; NotFoundError, ConflictError or InvalidInputError when the
change itself is refused, in which case nothing has been written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.errors import DatabaseUnavailableError, GatewayError, InvalidInputError
from gateway.logs import get_logger
from gateway.redact import redact_url, remember_secret
from gateway.store import failures, upgrade
from gateway.store.engine import (
    SQLITE_WRITE,
    HostOrder,
    create_engine,
    libpq_conninfo,
    normalise_url,
    sqlite_path,
)
from gateway.store.listen import Listener
from gateway.store.tables import SCHEMA_VERSION, metadata, people, schema_version

log = get_logger("store")


class Database:
    """An engine for a postgresql:// or sqlite:/// URL; connects lazily."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        pool_size: int = 5,
        application_name: str = "clock-gateway",
        pooler: str = "none",
        listen_url: str | None = None,
    ) -> None:
        """`pooler` and `listen_url`: as in [database] (gateway.config.DatabaseConfig):
        behind a transaction-mode pooler nothing is prepared on the server, and LISTEN
        goes to `listen_url` (a direct session) or, without one, is not attempted."""
        self.sa_url: URL = normalise_url(url)
        self.pooler = pooler
        self._listen_url = listen_url
        if self.sa_url.password:
            remember_secret(str(self.sa_url.password))
        self.connect_timeout = connect_timeout
        # As the person wrote it (driver names are ours to add), every secret masked.
        self._where = redact_url(url)
        self._dialect = self.sa_url.get_backend_name()
        path = sqlite_path(self.sa_url)
        self._sqlite_file = path
        # Several hosts (failover): the one that last gave a session first, for every
        # connection path of this database (engine.HostOrder).
        self.hosts: HostOrder | None = (
            HostOrder.of_conninfo(libpq_conninfo(self.sa_url))
            if self._dialect == "postgresql"
            else None
        )
        self._engine = create_engine(
            self.sa_url,
            connect_timeout=connect_timeout,
            pool_size=pool_size,
            application_name=application_name,
            server_prepares=self.server_prepares,
            hosts=self.hosts,
        )

    @property
    def url(self) -> str:
        """The database URL with the password hidden: safe to print and log."""
        return self._where

    @property
    def server_prepares(self) -> bool:
        """False behind a transaction-mode pooler that cannot carry prepared statements."""
        return self.pooler == "none"

    @property
    def libpq(self) -> str:
        """PostgreSQL: the libpq connection string (it holds the password: never log it)."""
        return libpq_conninfo(self.sa_url)

    def listener(
        self,
        channels: Sequence[str],
        on_change: Callable[[str], None],
        *,
        name: str,
        url: str | None = None,
    ) -> Listener | None:
        """A LISTEN session on `channels` (store/listen.py), on `url` if given (a direct
        path when the database's goes through a transaction-mode pooler), else on this
        database; None on SQLite, which has no notifications."""
        if self._dialect != "postgresql":
            return None
        url = url or self._listen_url
        if url is None and not self.server_prepares:
            # Through a transaction-mode pooler a LISTEN would succeed and then hear
            # nothing (its server connection goes back to the pool): poll instead.
            log.warning(
                f"{name}_listen_off",
                reason="database.pooler is set and database.listen_url is not",
                hint="set database.listen_url to a direct (session) URL",
            )
            return None
        target = self.sa_url if url is None else normalise_url(url)
        if target.password:
            remember_secret(str(target.password))
        return Listener(
            libpq_conninfo(target),
            channels,
            on_change,
            connect_timeout=self.connect_timeout,
            where=self._where if url is None else redact_url(url),
            name=name,
            hosts=self.hosts if target is self.sa_url else None,
        )

    @property
    def dialect(self) -> str:
        """Either "postgresql" or "sqlite"."""
        return self._dialect

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (for work that tx() does not cover, e.g. schema steps)."""
        return self._engine

    async def close(self) -> None:
        await self._engine.dispose()

    # -- transactions --------------------------------------------------------------
    @asynccontextmanager
    async def tx(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction; driver failures become DatabaseUnavailableError (the
        database cannot be used) or InvalidInputError (it refused the data)."""
        try:
            async with self._engine.connect() as conn:
                if write and self._dialect == "sqlite":
                    conn = await conn.execution_options(**{SQLITE_WRITE: True})
                async with conn.begin():
                    yield conn
        except GatewayError:
            raise
        except IntegrityError as exc:
            # Callers check what they can first; this is the database's last word.
            raise InvalidInputError(f"refused by the database: {failures.reason(exc)}") from None
        except (SQLAlchemyError, OSError) as exc:
            if not failures.is_unavailable(exc):
                raise InvalidInputError(
                    f"refused by the database: {failures.reason(exc)}"
                ) from None
            log.debug("database_error", url=self._where, error=failures.reason(exc))
            raise self._unavailable(exc) from None

    @property
    def sqlite_file(self) -> Path | None:
        """SQLite: the database file; None for PostgreSQL and in-memory databases."""
        return self._sqlite_file

    def unavailable(self, exc: BaseException) -> DatabaseUnavailableError:
        """The one-line error for a driver failure that makes the database unusable
        (for the swipe paths that bypass tx())."""
        return self._unavailable(exc)

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailableError:
        folder = None if self._sqlite_file is None else self._sqlite_file.parent
        # Checked only once connecting failed: SQLite's own message ("unable to open
        # database file") does not say why, and a stat per transaction on the event
        # loop would cost every swipe for the sake of this rare case.
        if folder is not None and not folder.is_dir():
            return DatabaseUnavailableError(
                f"no directory {folder} for the database: run 'clock-gateway db init'"
            )
        return failures.unavailable(exc, self._where)

    def insert(self, table: Any) -> Any:
        """INSERT with ON CONFLICT support for this database's dialect."""
        return (postgresql if self._dialect == "postgresql" else sqlite).insert(table)

    async def missing_uids(
        self, uids: Collection[str], conn: AsyncConnection | None = None
    ) -> set[str]:
        """The uids of no person (in `conn`'s transaction, or a fresh one)."""
        if not uids:
            return set()
        query = select(people.c.uid).where(people.c.uid.in_(list(uids)))
        if conn is not None:
            return set(uids) - set((await conn.execute(query)).scalars())
        async with self.tx() as fresh:
            return set(uids) - set((await fresh.execute(query)).scalars())

    # -- schema --------------------------------------------------------------------
    async def init_schema(self) -> None:
        """Create the schema if missing (schema.sql on PostgreSQL); safe to run again."""
        if self._dialect == "sqlite":
            if self._sqlite_file is not None:
                folder = self._sqlite_file.parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseUnavailableError(
                        f"cannot create {folder}: {exc.strerror}"
                    ) from None
            async with self.tx(write=True) as conn:
                await upgrade.refuse_other_version(conn, self._where)
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
            async with self.tx(write=True) as conn:
                await upgrade.lock(conn, self._dialect)
                await upgrade.refuse_other_version(conn, self._where)
                # Straight to psycopg without parameters: through SQLAlchemy, a '%' in
                # the file (a comment saying "100%") would be taken for a placeholder.
                driver = (await conn.get_raw_connection()).driver_connection
                if driver is None:  # only after the pool invalidated it
                    raise DatabaseUnavailableError(f"database {self._where}: connection lost")
                await driver.execute(sql)
        log.info("schema_ready", url=self._where, version=SCHEMA_VERSION)

    async def check(self) -> int:
        """The schema version, if this clock-gateway can use it; else
        DatabaseUnavailableError: unreachable, uninitialised, or a schema version other
        than SCHEMA_VERSION (the message names the command that mends it)."""
        self._require_file()
        async with self.tx() as conn:
            version = await conn.scalar(select(schema_version.c.version))
        return upgrade.require_current(None if version is None else int(version), self._where)

    async def upgrade_schema(self, *, dry_run: bool = False) -> upgrade.UpgradeResult:
        """Bring the schema to SCHEMA_VERSION, one transaction per step (upgrade.py)."""
        self._require_file()
        try:
            async with self._engine.connect() as conn:
                return await upgrade.upgrade(conn, self._dialect, self._where, dry_run=dry_run)
        except GatewayError:
            raise
        except (SQLAlchemyError, OSError) as exc:
            log.debug("database_error", url=self._where, error=failures.reason(exc))
            raise self._unavailable(exc) from None

    def _require_file(self) -> None:
        path = self._sqlite_file
        if path is not None and not path.exists():
            # Connecting would create an empty file; say what is wrong instead.
            raise DatabaseUnavailableError(
                f"no database file at {path}: run 'clock-gateway db init'"
            )
