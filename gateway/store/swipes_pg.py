"""The swipe path's one statement on PostgreSQL: look the cards up and record the
events of a whole batch in one round trip.

The generic path (SwipeStore.record_swipes over SQLAlchemy) costs BEGIN, SELECT,
INSERT and COMMIT, four round trips and much Python per batch. Here one statement
in autocommit mode does the lookup and the insert (a data-modifying CTE), so it is
its own transaction: atomic, and durable when it returns (synchronous_commit is the
server's). The batch travels as one JSON array of rows, so the statement's text is
the same for every batch size and psycopg prepares it once (not behind a
transaction-mode pooler: `database.pooler`, docs/DATABASE.md). The connection is our
own, outside SQLAlchemy's pool, one per statement in flight (the group-commit writer
runs at most a few at once); any failure other than refused data closes it and the
idle ones (the next batch connects afresh, which is also how a PostgreSQL restart is
survived).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from gateway import trace
from gateway.domain import ClockEvent, Person
from gateway.errors import DatabaseUnavailableError, InvalidInputError
from gateway.store import failures
from gateway.store.engine import HostOrder

# The holders of the batch's cards (active card of an active person), and the events
# of those swipes inserted in batch order (id is the export cursor), idempotent on
# event_key. The outer SELECT sees the CTE's snapshot: the holders as of this
# statement, so a revocation committed before it is honoured.
#
# Each swipe's card is found through the unique index cards_active_card_key by a
# LATERAL subquery per row (a card has at most one active row, so LIMIT 1 changes
# nothing but the plan). A plain join let the planner, which guesses 100 rows for
# json_array_elements whatever the batch, hash every active card for each statement:
# 2,000 cards cost about 0.9 ms per swipe, against 0.07 ms by the index
# (bench/swipe_statement.py), and it grew with the school.
RECORD_SWIPES = """WITH s AS (
    SELECT (e->>0)::uuid AS event_key, e->>1 AS card_key, e->>2 AS direction,
           e->>3 AS reader, e->>4 AS reader_hw_id, (e->>5)::timestamptz AS received_at,
           e->>6 AS outcome, e->>7 AS gateway_id, n
    FROM json_array_elements(%s::json) WITH ORDINALITY AS b(e, n)
), h AS (
    SELECT s.*, p.uid, p.name
    FROM s
    CROSS JOIN LATERAL (
        SELECT c.person_uid FROM cards c
        WHERE c.card_key = s.card_key AND c.revoked_at IS NULL
        LIMIT 1
    ) c
    JOIN people p ON p.uid = c.person_uid AND p.active
), ins AS (
    INSERT INTO clock_events
        (event_key, person_uid, card_key, direction, reader, reader_hw_id, received_at,
         outcome, gateway_id)
    SELECT event_key, uid, card_key, direction, reader, reader_hw_id, received_at, outcome,
           gateway_id
    FROM h ORDER BY n
    ON CONFLICT (event_key) DO NOTHING
)
SELECT n, uid, name FROM h
"""


_Cursor = psycopg.AsyncCursor[tuple[Any, ...]]


class PgSwipeWriter:
    """Runs RECORD_SWIPES on connections of its own: one per statement in flight."""

    def __init__(
        self,
        conninfo: str,
        *,
        connect_timeout: float,
        where: str,
        prepare: bool = True,
        hosts: HostOrder | None = None,
    ) -> None:
        """prepare=False behind a transaction-mode pooler (database.pooler): the next
        statement may run on a server connection that never saw the preparation."""
        self._conninfo = conninfo
        # Several hosts: the one that last gave a session first (shared with the pool).
        self._hosts = hosts or HostOrder.of_conninfo(conninfo)
        self._prepare = prepare
        self._connect_timeout = max(2, math.ceil(connect_timeout))  # libpq: whole seconds
        self._where = where  # the URL without its password, for messages
        # A cursor per connection, kept: a new one per statement costs measurably more
        # CPU (psycopg sets up its adaptation state again).
        self._idle: list[_Cursor] = []
        self._busy: set[_Cursor] = set()

    async def record(self, swipes: Sequence[ClockEvent]) -> list[Person | None]:
        """Per swipe, the active holder of its card (event stored), or None."""
        # One JSON text for the whole batch: psycopg adapts a str at once, where one
        # array per column cost it a scan of every element (a profiled 7 % of the
        # daemon's CPU under load).
        batch = json.dumps(
            [
                [
                    str(s.event_key),
                    s.card_key,
                    s.direction.value,
                    s.reader,
                    s.reader_hw_id,
                    s.received_at.isoformat(),
                    s.outcome.value,
                    s.gateway_id,
                ]
                for s in swipes
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        cursor: _Cursor | None = None
        try:
            cursor = await self._checkout()
            if trace.ON:
                _stamp_all(swipes, "sent")
            await cursor.execute(RECORD_SWIPES, (batch,), prepare=self._prepare)
            rows = await cursor.fetchall()
            if trace.ON:
                _stamp_all(swipes, "committed")
        except (psycopg.IntegrityError, psycopg.DataError) as exc:
            # Refused data: nothing was stored (one statement), the connection is fine.
            self._checkin(cursor)
            raise InvalidInputError(f"refused by the database: {failures.reason(exc)}") from None
        except BaseException as exc:
            await self._discard(cursor)  # broken, or cancelled mid-statement: never reuse
            if isinstance(exc, psycopg.Error | OSError):
                raise _unavailable(exc, self._where) from None
            raise
        self._checkin(cursor)
        people: list[Person | None] = [None] * len(swipes)
        for n, uid, name in rows:
            people[n - 1] = Person(uid=uid, name=name)
        return people

    async def close(self) -> None:
        # Busy ones too: a statement stuck on a locked table must not hold up the
        # daemon's stop (it fails when its connection goes).
        cursors, self._idle = [*self._idle, *self._busy], []
        self._busy.clear()
        for cursor in cursors:
            await _close(cursor)

    async def _checkout(self) -> _Cursor:
        while self._idle:
            cursor = self._idle.pop()
            if not cursor.connection.closed:
                self._busy.add(cursor)
                return cursor
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name="clock-gateway",
            prepare_threshold=None if not self._prepare else 5,  # psycopg's default: 5
            **self._hosts.params(),
        )
        self._hosts.answered_by(conn)
        cursor = conn.cursor()
        self._busy.add(cursor)
        return cursor

    def _checkin(self, cursor: _Cursor | None) -> None:
        if cursor is not None and cursor in self._busy:  # not if close() took it meanwhile
            self._busy.discard(cursor)
            self._idle.append(cursor)

    async def _discard(self, cursor: _Cursor | None) -> None:
        if cursor is None:
            return
        self._busy.discard(cursor)
        # After a PostgreSQL restart every idle connection is dead too: drop them all
        # rather than fail one more batch on each.
        idle, self._idle = self._idle, []
        for one in (cursor, *idle):
            await _close(one)


def _stamp_all(swipes: Sequence[ClockEvent], hop: str) -> None:
    at = time.monotonic_ns()
    for swipe in swipes:
        trace.stamp(str(swipe.event_key), hop, at)


async def _close(cursor: _Cursor) -> None:
    # Closing a dead connection may fail too: it is gone anyway.
    with contextlib.suppress(Exception):
        await cursor.connection.close()


def _unavailable(exc: BaseException, where: str) -> DatabaseUnavailableError:
    if getattr(exc, "sqlstate", None) == "42P01":  # undefined table
        return DatabaseUnavailableError(
            f"database {where} has no clock-gateway schema: run 'clock-gateway db init'"
        )
    return DatabaseUnavailableError(f"database {where} unavailable: {failures.reason(exc)}")
