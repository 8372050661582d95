"""Database URLs and async engines for PostgreSQL (psycopg 3) and SQLite (aiosqlite).

Why an async engine rather than a thread pool around a sync one: the daemon serves
both readers on one asyncio event loop and the swipe path must never block it. With
SQLAlchemy's async engine over psycopg 3's native async connections, waiting for
PostgreSQL is an await like any other, cancellation and timeouts compose with
asyncio, and no thread pool has to be sized. aiosqlite gives SQLite the same API
(it runs each connection on its own thread), so one Database serves both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.config import database_url_problem, redact_url
from gateway.errors import ConfigError
from gateway.store.folding import SQLITE_FUNCTION, sqlite_fold

# Execution option that marks a connection as about to write (see _sqlite_begin).
SQLITE_WRITE = "clock_gateway_write"


def normalise_url(url: str) -> URL:
    """The async-driver URL: postgres[ql]:// -> postgresql+psycopg://, sqlite -> aiosqlite."""
    if problem := database_url_problem(url):
        raise ConfigError("database URL", None, problem)
    try:
        parsed = make_url(_hosts_as_query(url))
    except (ArgumentError, ValueError):
        raise ConfigError("database URL", None, f"cannot parse {redact_url(url)!r}") from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ConfigError(
        "database URL", None, f"unsupported database {backend!r}: use postgresql:// or sqlite:///"
    )


def _hosts_as_query(url: str) -> str:
    """libpq's multi-host form `user@h1:5432,h2:5433/db` in SQLAlchemy's spelling,
    `user@/db?host=h1:5432&host=h2:5433` (make_url cannot parse the first: its port
    is not a number). Other URLs are returned as they are.

    The userinfo ends at the last '@' (a password may hold any other character), as
    in gateway.redact; the host part ends at the first '/' or '?'.
    """
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.rpartition("@")
    netloc = re.split(r"[/?]", hostpart, maxsplit=1)[0]
    if not sep or "," not in netloc:
        return url
    tail = hostpart[len(netloc) :]
    path, _, query = tail.partition("?")
    hosts = "&".join(f"host={quote(one, safe=':[]')}" for one in netloc.split(",") if one)
    return f"{scheme}{sep}{userinfo}{at}{path or '/'}?{hosts}{'&' + query if query else ''}"


def libpq_conninfo(url: URL) -> str:
    """The libpq connection string of a PostgreSQL URL, built from its parts.

    The one place a URL becomes libpq parameters: make_conninfo quotes each value, so
    a password with a space, a quote, '%', '/', ':', '?', '#' or '@' arrives intact
    (rendering the URL back to text does not escape it, and libpq then quoted the
    broken string, password included, in its error). Several hosts, as SQLAlchemy
    writes them (`?host=h1:5432&host=h2:5433`), become libpq's comma lists, so
    `target_session_attrs=read-write` can pick the primary after a failover.
    """
    params: dict[str, str] = {}
    for key, value in url.query.items():
        if key != "host":
            params[key] = value if isinstance(value, str) else value[-1]
    hosts = url.query.get("host")
    if hosts:
        pairs = [hosts] if isinstance(hosts, str) else list(hosts)
        split = [h.rpartition(":")[::2] if ":" in h else (h, "") for h in pairs]
        params["host"] = ",".join(name for name, _ in split)
        if any(port for _, port in split):
            params["port"] = ",".join(port for _, port in split)
    elif url.host:
        params["host"] = url.host
    if url.port is not None and "port" not in params:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.password is not None:
        params["password"] = str(url.password)
    if url.database:
        params["dbname"] = url.database
    return make_conninfo(**params)


class HostOrder:
    """The hosts of a multi-host connection, the one that last gave a session first.

    libpq tries the hosts in the order given, each for up to the connect timeout.
    After a failover the old primary may hang rather than refuse (a frozen machine,
    packets dropped): every new connection would then wait the whole timeout on it
    before reaching the new primary. Each connection that succeeds moves its host to
    the front, so only the first connection after a failover pays that wait.
    A Database shares one between its pool, its swipe writer and its own LISTEN
    sessions, so what one path learnt (the drainer's probe reaching the new primary)
    spares the others; a single host needs none (`params()` is then empty).
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        hosts = str(params.get("host") or "").split(",")
        ports = str(params.get("port") or "").split(",")
        if len(ports) == 1:
            ports = ports * len(hosts)  # libpq: one port for every host
        self._pairs = list(zip(hosts, ports, strict=False))
        if len(hosts) < 2 or len(ports) != len(hosts):
            self._pairs = []

    @classmethod
    def of_conninfo(cls, conninfo: str) -> HostOrder:
        return cls(conninfo_to_dict(conninfo))

    def params(self) -> dict[str, Any]:
        """host and port for libpq in the preferred order ({} for a single host)."""
        if not self._pairs:
            return {}
        return {
            "host": ",".join(host for host, _ in self._pairs),
            "port": ",".join(port for _, port in self._pairs),
        }

    def answered(self, host: str | None, port: int | str | None) -> None:
        """A session was opened on `host`:`port` (libpq's PQhost, PQport)."""
        for i, (one, its_port) in enumerate(self._pairs):
            if one == host and its_port in ("", str(port)):
                if i:
                    self._pairs.insert(0, self._pairs.pop(i))
                return

    def answered_by(self, conn: Any) -> None:
        """The same, from a psycopg connection."""
        if self._pairs:
            self.answered(conn.info.host, conn.info.port)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL and in-memory databases."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser()


def create_engine(
    url: URL,
    *,
    connect_timeout: float,
    pool_size: int,
    application_name: str = "clock-gateway",
    server_prepares: bool = True,
    hosts: HostOrder | None = None,
) -> AsyncEngine:
    """`server_prepares=False` behind a transaction-mode pooler: psycopg prepares a
    statement on the server after its fifth use on a connection, and the pooler may
    send the next use to a server connection that never saw it."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, connect_timeout)
    connect_args: dict[str, Any] = {
        # libpq takes whole seconds (and treats less than 2 as 2).
        "connect_timeout": max(2, math.ceil(connect_timeout)),
        "application_name": application_name,
    }
    if not server_prepares:
        connect_args["prepare_threshold"] = None  # psycopg: never prepare
    hosts = hosts or HostOrder.of_conninfo(libpq_conninfo(url))
    engine = create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=connect_timeout,
        # No ping before each use: it is one more round trip per transaction, a third
        # of a swipe's database time. After a PostgreSQL restart the first use of a
        # dead pooled connection fails, SQLAlchemy sees a disconnect and discards
        # every connection of the old server; the daemon keeps that swipe in its
        # spool (still durable, still OK) and the next transaction connects afresh.
        pool_pre_ping=False,
    )
    if hosts.params():

        @event.listens_for(engine.sync_engine, "do_connect")
        def _preferred_first(_d: Any, _r: Any, _a: Any, cparams: dict[str, Any]) -> None:
            cparams.update(hosts.params())

        @event.listens_for(engine.sync_engine, "connect")
        def _remember(dbapi_connection: Any, _record: Any) -> None:
            driver = getattr(dbapi_connection, "driver_connection", None)
            if driver is not None:
                hosts.answered_by(driver)

    return engine


def _sqlite_engine(url: URL, timeout: float) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": timeout})
    busy_ms = int(timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that _sqlite_begin decides
        # how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL: readers never wait for the writer. synchronous=FULL: a committed
            # swipe survives power loss, so the reader's OK is true.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cursor.close()
        # The people search's case and accent folding (store/folding.py).
        dbapi_connection.create_function(SQLITE_FUNCTION, 1, sqlite_fold, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes cannot wait for another
        # writer (SQLite answers "database is locked" at once); IMMEDIATE takes the
        # write lock up front, where busy_timeout applies.
        immediate = conn.get_execution_options().get(SQLITE_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
