"""Card changes pushed by PostgreSQL: LISTEN 'clock_gateway_cards'.

Statement-level triggers on `cards` and `people` (schema v2) call
pg_notify('clock_gateway_cards', '') after every change, so a card revoked at the
office reaches every gateway's card directory within seconds, not at its next
periodic refresh. The listener holds one connection of its own (a LISTEN is bound to
its session: it cannot share a pooled one), reconnects after any failure with a
backoff, and calls `on_change` once each time it starts listening (changes made
while it was not listening were missed) and once per notification. The caller
coalesces bursts (an import of 500 people is 500 notifications at most).

A TCP path that dies silently (no reset) would leave the LISTEN waiting forever:
libpq's keepalives and a `SELECT 1` after each quiet `PING_EVERY_S` find it.
SQLite has no notifications; there the periodic refresh is all there is.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable

import psycopg

from gateway.logs import get_logger

CHANNEL = "clock_gateway_cards"
PING_EVERY_S = 30.0
RETRY_MIN_S = 1.0
RETRY_MAX_S = 30.0

log = get_logger("card_changes")


class CardChangeListener:
    def __init__(
        self,
        conninfo: str,
        on_change: Callable[[str], None],
        *,
        connect_timeout: float,
        where: str,
        ping_every_s: float = PING_EVERY_S,
    ) -> None:
        """on_change(reason): reason is 'listening' (after each (re)connect) or 'notify'."""
        self._conninfo = conninfo
        self._on_change = on_change
        self._connect_timeout = max(2, math.ceil(connect_timeout))  # libpq: whole seconds
        self._where = where  # the URL without its password, for the log
        self._ping_every_s = ping_every_s
        self.listening = False
        self.notifications = 0
        self.failures = 0  # sessions that failed or could not be opened

    async def run(self) -> None:
        """Listen until cancelled; never raises otherwise."""
        delay = RETRY_MIN_S
        failed_before = False
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: reconnect later; the periodic refresh covers
                self.failures += 1
                if not failed_before:  # once per outage, not every retry
                    log.warning("card_listen_failed", database=self._where, error=_short(exc))
                failed_before = True
            else:
                failed_before = False
            if self.listening:
                delay = RETRY_MIN_S  # it had worked: the next try is soon
            self.listening = False
            # Jittered: after a database restart 1,000 gateways do not reconnect at once.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RETRY_MAX_S)

    async def _listen_once(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name="clock-gateway",
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.listening = True
            log.info("card_listen_started", database=self._where)
            self._on_change("listening")
            while True:
                async for _ in conn.notifies(timeout=self._ping_every_s):
                    self.notifications += 1
                    self._on_change("notify")
                # Quiet for a while: make sure the session is still there.
                async with asyncio.timeout(self._connect_timeout + 5):
                    await conn.execute("SELECT 1")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
