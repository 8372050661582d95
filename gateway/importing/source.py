"""Reading the original system's PostgreSQL database, read-only.

One psycopg connection in a read-only transaction (the import never writes there,
and a REPEATABLE READ snapshot gives counts and rows that agree even if the old
backend were still running). auth_entity streams through a server-side cursor in
(timestamp, id_key) order, so millions of taps never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.errors import ConfigError, DatabaseUnavailableError, InvalidInputError
from gateway.store import failures

# The original's tables and the columns the import reads (its ORM's names).
EXPECTED = {
    "user": {"uid", "name", "key"},
    "auth_entity": {"id_key", "reader", "timestamp", "userUid"},
    "user_schedule": {"uid", "day", "hour", "room", "userUid"},
}


def source_url(url: str) -> tuple[str, str]:
    """(libpq URL, the same with its password hidden) from what the person typed."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("--from", None, "not a database URL (postgresql://...)") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigError(
            "--from", None, "the original system's database is PostgreSQL: postgresql://..."
        )
    plain = parsed.set(drivername="postgresql")
    return plain.render_as_string(hide_password=False), plain.render_as_string(hide_password=True)


class OriginalDatabase:
    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        self._dsn, self.where = source_url(url)
        self._timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> Self:
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self._dsn,
                connect_timeout=max(2, int(self._timeout)),
                application_name="clock-gateway-import",
            )
            await self._conn.set_read_only(True)
            await self._conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(
                f"original database {self.where} unavailable: {failures.reason(exc)}"
            ) from None
        try:
            await self._check_schema()
        except BaseException:
            await self._conn.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await self._conn.close()

    @property
    def conn(self) -> psycopg.AsyncConnection[Any]:
        assert self._conn is not None, "use `async with OriginalDatabase(...)`"
        return self._conn

    async def _fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            async with self.conn.cursor() as cur:
                await cur.execute(sql)  # fixed text, never built from input
                return await cur.fetchall()
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(
                f"original database {self.where}: {failures.reason(exc)}"
            ) from None

    async def _check_schema(self) -> None:
        rows = await self._fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
        found: dict[str, set[str]] = {}
        for table, column in rows:
            found.setdefault(table, set()).add(column)
        for table, columns in EXPECTED.items():
            if table not in found:
                raise InvalidInputError(
                    f"{self.where} is not the original system's database: no table {table!r}"
                )
            missing = sorted(columns - found[table])
            if missing:
                raise InvalidInputError(
                    f"{self.where}: table {table!r} has no column {', '.join(missing)}"
                )

    async def users(self) -> list[tuple[str, str, str | None]]:
        rows = await self._fetch('SELECT uid, name, key FROM "user" ORDER BY uid')
        return [(str(u), str(n), None if k is None else str(k)) for u, n, k in rows]

    async def schedule(self) -> list[tuple[int, str, str, str, str | None]]:
        rows = await self._fetch(
            'SELECT uid, day, hour, room, "userUid" FROM user_schedule ORDER BY uid'
        )
        return [(int(i), str(d), str(h), str(r), u) for i, d, h, r, u in rows]

    async def count_entries(self) -> int:
        rows = await self._fetch("SELECT count(*) FROM auth_entity")
        return int(rows[0][0])

    async def entries(
        self, batch: int = 10_000
    ) -> AsyncIterator[Sequence[tuple[int, str, int, str | None]]]:
        """auth_entity in (timestamp, id_key) order, `batch` rows at a time."""
        try:
            async with self.conn.cursor(name="clock_gateway_entries") as cur:
                await cur.execute(
                    'SELECT id_key, reader, "timestamp", "userUid" FROM auth_entity '
                    'ORDER BY "timestamp", id_key'
                )
                while rows := await cur.fetchmany(batch):
                    yield rows
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(
                f"original database {self.where}: {failures.reason(exc)}"
            ) from None
