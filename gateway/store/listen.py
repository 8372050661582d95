"""LISTEN on PostgreSQL channels, on a connection of our own: the one way in for NOTIFY.

Two users: the gateways' card directory (channel `clock_gateway_cards`: statement-level
triggers on `cards` and `people` call pg_notify after every change, so a card revoked
at the office reaches every gateway within seconds) and the web's live board
(`clock_gateway_events` too). A LISTEN is bound to its session: it cannot share a
pooled connection, and behind a transaction-mode pooler it needs a direct path.

The listener reconnects after any failure with a short jittered backoff, and calls
`on_change` once each time it starts listening (changes made while it was not
listening were missed) and once per notification. The caller coalesces bursts.

A TCP path that dies silently (no reset) would leave the LISTEN waiting forever:
libpq's keepalives and a `SELECT 1` after each quiet `PING_EVERY_S` find it.
SQLite has no notifications; there the callers poll.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence

import psycopg

from gateway.logs import get_logger
from gateway.redact import redact_text
from gateway.store.engine import HostOrder

CARDS_CHANNEL = "clock_gateway_cards"
EVENTS_CHANNEL = "clock_gateway_events"
PING_EVERY_S = 30.0
# Short: after a database restart or a failover the LISTEN is back within RETRY_MAX_S
# (plus one connection) of a primary accepting connections: it was 16 s at a 30 s cap,
# up to 3.2 s at 4 s (tests/reliability/test_failover.py). Each try is one connection
# attempt (refused at once by a stopped server; a standby is turned away by
# target_session_attrs=read-write after its handshake), so a fleet of 1,000 waiting
# gateways makes 500-1,000 attempts a second, fewer than their drainers' probes. The
# jitter (x 0.5-1) spreads their reconnections, so they do not arrive at once.
RETRY_MIN_S = 0.5
RETRY_MAX_S = 2.0

log = get_logger("listen")


class Listener:
    """LISTEN on `channels`; logs as `<name>_listen_started` / `<name>_listen_failed`."""

    def __init__(
        self,
        conninfo: str,
        channels: Sequence[str],
        on_change: Callable[[str], None],
        *,
        connect_timeout: float,
        where: str,
        name: str,
        ping_every_s: float = PING_EVERY_S,
        hosts: HostOrder | None = None,
    ) -> None:
        """on_change(reason): reason is 'listening' (after each (re)connect) or 'notify'.
        `conninfo` is a libpq string or URL (it may hold the password: never logged);
        `where` is the database as it may be logged."""
        self._conninfo = conninfo
        # Several hosts: the one that last gave a session first (shared when given).
        self._hosts = hosts or HostOrder.of_conninfo(conninfo)
        self._channels = tuple(channels)
        self._on_change = on_change
        self._connect_timeout = max(2, math.ceil(connect_timeout))  # libpq: whole seconds
        self._where = where
        self._name = name
        self._ping_every_s = ping_every_s
        self.listening = False
        self.notifications = 0
        # Per channel, counted before on_change is called: a caller that must tell
        # the channels apart (the board: a tap or a change of people) compares them.
        self.channel_notifications: Counter[str] = Counter()
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
            except Exception as exc:  # any failure: reconnect soon; the callers poll meanwhile
                self.failures += 1
                if not failed_before:  # once per outage, not every retry
                    log.warning(
                        f"{self._name}_listen_failed", database=self._where, error=_short(exc)
                    )
                failed_before = True
            else:
                failed_before = False
            if self.listening:
                delay = RETRY_MIN_S  # it had worked: the next try is soon
            self.listening = False
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
            **self._hosts.params(),
        )
        self._hosts.answered_by(conn)
        async with conn:
            for channel in self._channels:
                await conn.execute(f"LISTEN {channel}")
            self.listening = True
            log.info(f"{self._name}_listen_started", database=self._where, channels=self._channels)
            self._on_change("listening")
            while True:
                async for notify in conn.notifies(timeout=self._ping_every_s):
                    self.notifications += 1
                    self.channel_notifications[notify.channel] += 1
                    self._on_change("notify")
                # Quiet for a while: make sure the session is still there.
                async with asyncio.timeout(self._connect_timeout + 5):
                    await conn.execute("SELECT 1")


def _short(exc: BaseException) -> str:
    """The error's first line, secrets masked (libpq may quote its connection string)."""
    text = str(exc).strip().splitlines()
    return redact_text(text[0]) if text else type(exc).__name__
