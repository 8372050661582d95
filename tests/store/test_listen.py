"""The LISTEN helper (on the card channel) against a real PostgreSQL: notifications
arrive, and a lost session is replaced (and the change it may have missed is reported)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import psycopg
import pytest

from gateway.store.listen import CARDS_CHANNEL as CHANNEL
from gateway.store.listen import Listener
from tests.reliability.support import closed_port_url


async def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.02)


@pytest.mark.postgres
async def test_notifications_arrive_and_the_session_is_replaced(pg_url: str) -> None:
    seen: list[str] = []
    listener = Listener(
        pg_url, [CHANNEL], seen.append, connect_timeout=2, where="test", name="card"
    )
    task = asyncio.create_task(listener.run())
    try:
        await _until(lambda: seen == ["listening"], 10, "the first LISTEN")
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            started = time.monotonic()
            await conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
            await _until(lambda: seen[-1:] == ["notify"], 5, "the notification")
            assert time.monotonic() - started < 5

            # The session goes away (a restart, a cut path): a new one, told as a change.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
            )
            await _until(lambda: seen.count("listening") == 2, 10, "listening again")
            await conn.execute(f"NOTIFY {CHANNEL}")
            await _until(lambda: seen[-1:] == ["notify"], 5, "a notification after it")
        assert listener.notifications == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_unreachable_database_is_retried() -> None:
    seen: list[str] = []
    listener = Listener(
        closed_port_url(), [CHANNEL], seen.append, connect_timeout=2, where="x", name="card"
    )
    task = asyncio.create_task(listener.run())
    try:
        await _until(lambda: listener.failures >= 2, 10, "a retry after the first failure")
        assert not task.done() and seen == [] and not listener.listening
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
