"""When the database cannot be used: one clear line, no secrets, nothing half-done."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import pytest

from bench.kit.pgcluster import PgCluster, free_port, start_cluster
from gateway.errors import DatabaseUnavailableError
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from tests.store.support import count, event, open_stores

Operation = Callable[[Stores], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "check": lambda s: s.db.check(),
    "find_person_by_card": lambda s: s.swipes.find_person_by_card("04A1B2C3"),
    "record_events": lambda s: s.swipes.record_events([event()]),
    "add_person": lambda s: s.lifecycle.add_person("ana", "Ana", Actor.cli()),
    "card_directory": lambda s: s.swipes.card_directory(),
}


async def _expect_unavailable(url: str, secret: str) -> list[str]:
    messages = []
    stores = Stores.open(url, connect_timeout=3.0)
    try:
        for name, operation in OPERATIONS.items():
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailableError) as info:
                await operation(stores)
            message = str(info.value)
            assert "\n" not in message, name
            assert secret not in message, name
            assert time.monotonic() - started < 10, name
            messages.append(message)
    finally:
        await stores.close()
    return messages


async def test_nothing_listening_on_the_port() -> None:
    url = f"postgresql://clock:s3cret-pw@127.0.0.1:{free_port()}/clock"
    messages = await _expect_unavailable(url, "s3cret-pw")
    assert all("unavailable" in m and "***" in m for m in messages)


async def test_wrong_password(pg_cluster: PgCluster) -> None:
    url = pg_cluster.url("postgres", password="wrong-s3cret")
    messages = await _expect_unavailable(url, "wrong-s3cret")
    assert all("password authentication failed" in m for m in messages)


async def test_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'gateway.db'}"
    stores = Stores.open(url)
    try:
        with pytest.raises(DatabaseUnavailableError, match="cannot create"):
            await stores.db.init_schema()
        await _expect_unavailable(url, "no-secret-here")
    finally:
        await stores.close()


async def test_check_does_not_create_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    async with open_stores(f"sqlite:///{path}", init=False) as stores:
        with pytest.raises(DatabaseUnavailableError, match="no database file"):
            await stores.db.check()
    assert not path.exists()


@pytest.mark.postgres
async def test_a_server_restart_is_survived_by_the_same_stores() -> None:
    # Its own cluster: stopping the shared one would break other tests.
    cluster = await asyncio.to_thread(start_cluster)
    try:
        url = await asyncio.to_thread(cluster.create_database, "restart")
        async with open_stores(url) as stores:
            await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
            assert await stores.swipes.record_events([event()]) == [True]
            await asyncio.to_thread(cluster.stop)
            with pytest.raises(DatabaseUnavailableError):
                await stores.swipes.record_events([event()])
            await asyncio.to_thread(cluster.start)
            await asyncio.to_thread(cluster.wait_ready)
            # Pooled connections died with the server; the pool notices and reconnects.
            assert await stores.swipes.record_events([event()]) == [True]
        assert count(url, "clock_events") == 2
    finally:
        await asyncio.to_thread(cluster.destroy)


async def test_a_cancelled_write_leaves_all_or_nothing(db_url: str) -> None:
    """A caller that gives up waiting (asyncio timeout) must not corrupt anything.

    On SQLite the cancellation completes only when the driver's thread gives up
    waiting for the lock, after connect_timeout (the busy timeout): keep it short.
    """
    async with open_stores(db_url, connect_timeout=1.0) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        swipe = event()
        with WriterBlocked(db_url), pytest.raises(TimeoutError):
            await asyncio.wait_for(stores.swipes.record_events([swipe]), timeout=0.5)
        # Retrying the same event afterwards stores it exactly once.
        first = await stores.swipes.record_events([swipe])
        assert first in ([True], [False])
        assert await stores.swipes.record_events([swipe]) == [False]
        assert await stores.swipes.find_person_by_card("04A1B2C3") is None
    assert count(db_url, "clock_events") == 1


class WriterBlocked:
    """Holds the database's write lock from another connection for a moment."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: sqlite3.Connection | psycopg.Connection[tuple[object, ...]] | None = None

    def __enter__(self) -> None:
        if self.url.startswith("sqlite:///"):
            lite = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            lite.execute("BEGIN IMMEDIATE")
            self.conn = lite
        else:
            pg = psycopg.connect(self.url)
            pg.execute("LOCK TABLE clock_events IN ACCESS EXCLUSIVE MODE")
            self.conn = pg

    def __exit__(self, *exc: object) -> None:
        assert self.conn is not None
        self.conn.rollback()
        self.conn.close()


async def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    path.write_bytes(b"this is not a SQLite database, just some text " * 100)
    messages = await _expect_unavailable(f"sqlite:///{path}", "no-secret-here")
    assert all("not a database" in m for m in messages)
