"""The swipe path's one statement on PostgreSQL: look the cards up and record the
events of a whole batch in one round trip.

The generic path (Repository.record_swipes over SQLAlchemy) costs BEGIN, SELECT,
INSERT and COMMIT, four round trips and much Python per batch. Here one statement
in autocommit mode does the lookup and the insert (a data-modifying CTE), so it is
its own transaction: atomic, and durable when it returns (synchronous_commit is the
server's). The batch travels as one array per column, so the statement's text is
the same for every batch size and psycopg prepares it once. The connection is our
own, outside SQLAlchemy's pool: it is used by one group-commit writer at a time, and
any failure other than refused data closes it (the next batch connects afresh, which
is also how a PostgreSQL restart is survived).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from typing import Any

import psycopg

from gateway.domain import Person, SwipeRecord
from gateway.errors import DatabaseUnavailableError, InvalidInputError
from gateway.store import failures

# The holders of the batch's cards (active card of an active person), and the events
# of those swipes inserted in batch order (id is the export cursor), idempotent on
# event_key. The outer SELECT sees the CTE's snapshot: the holders as of this
# statement, so a revocation committed before it is honoured.
_RECORD_SWIPES = """WITH s AS (
    SELECT * FROM unnest(
        %(event_keys)s::uuid[], %(card_keys)s::text[], %(directions)s::text[],
        %(readers)s::text[], %(hw_ids)s::text[], %(received)s::timestamptz[],
        %(outcomes)s::text[]
    ) WITH ORDINALITY
      AS s(event_key, card_key, direction, reader, reader_hw_id, received_at, outcome, n)
), h AS (
    SELECT s.*, p.uid, p.name
    FROM s
    JOIN cards c ON c.card_key = s.card_key AND c.revoked_at IS NULL
    JOIN people p ON p.uid = c.person_uid AND p.active
), ins AS (
    INSERT INTO clock_events
        (event_key, person_uid, card_key, direction, reader, reader_hw_id, received_at,
         outcome)
    SELECT event_key, uid, card_key, direction, reader, reader_hw_id, received_at, outcome
    FROM h ORDER BY n
    ON CONFLICT (event_key) DO NOTHING
)
SELECT n, uid, name FROM h
"""


class PgSwipeWriter:
    def __init__(self, conninfo: str, *, connect_timeout: float, where: str) -> None:
        self._conninfo = conninfo
        self._connect_timeout = max(2, math.ceil(connect_timeout))  # libpq: whole seconds
        self._where = where  # the URL without its password, for messages
        self._conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the one connection

    async def record(self, swipes: Sequence[SwipeRecord]) -> list[Person | None]:
        """Per swipe, the active holder of its card (event stored), or None."""
        params = {
            "event_keys": [s.event_key for s in swipes],
            "card_keys": [s.card_key for s in swipes],
            "directions": [s.direction.value for s in swipes],
            "readers": [s.reader for s in swipes],
            "hw_ids": [s.reader_hw_id for s in swipes],
            "received": [s.received_at for s in swipes],
            "outcomes": [s.outcome.value for s in swipes],
        }
        async with self._lock:
            try:
                conn = await self._connection()
                cursor = await conn.execute(_RECORD_SWIPES, params)
                rows = await cursor.fetchall()
            except (psycopg.IntegrityError, psycopg.DataError) as exc:
                # Refused data: nothing was stored (one statement), the connection is fine.
                raise InvalidInputError(
                    f"refused by the database: {failures.reason(exc)}"
                ) from None
            except BaseException as exc:
                await self._drop()  # broken, or cancelled mid-statement: never reuse it
                if isinstance(exc, psycopg.Error | OSError):
                    raise _unavailable(exc, self._where) from None
                raise
        people: list[Person | None] = [None] * len(swipes)
        for n, uid, name in rows:
            people[n - 1] = Person(uid=uid, name=name)
        return people

    async def close(self) -> None:
        # Not behind the lock: a statement stuck on a locked table must not hold up
        # the daemon's stop (it fails when its connection goes).
        await self._drop()

    async def _connection(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="clock-gateway",
            )
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing a dead connection may fail too: it is gone anyway.
            with contextlib.suppress(Exception):
                await conn.close()


def _unavailable(exc: BaseException, where: str) -> DatabaseUnavailableError:
    if getattr(exc, "sqlstate", None) == "42P01":  # undefined table
        return DatabaseUnavailableError(
            f"database {where} has no clock-gateway schema: run 'clock-gateway db init'"
        )
    return DatabaseUnavailableError(f"database {where} unavailable: {failures.reason(exc)}")
