"""SQLite's swipe path on its own thread (store/swipes_sqlite.py): the rows it stores
are the ones the SQLAlchemy Core path stores, the connection is durable, and its
failures are the store's one-line errors."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.domain import ClockEvent, Direction, Outcome, Person
from gateway.errors import DatabaseUnavailableError, InvalidInputError
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from tests.store.support import count, open_stores, sql

T0 = datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=UTC)
ANA, NOBODY = "04A1B2C3", "DEADBEEF"


def swipe(card: str, n: int, *, hw: str | None = "a1b2c3d4") -> ClockEvent:
    return ClockEvent(
        event_key=uuid.uuid5(uuid.NAMESPACE_OID, f"{card}/{n}"),
        card_key=card,
        direction=Direction.IN if n % 2 else Direction.OUT,
        reader="entrance",
        reader_hw_id=hw,
        received_at=T0 + timedelta(seconds=n),
        outcome=Outcome.DUPLICATE if n == 3 else Outcome.RECORDED,
        gateway_id="gw-a",
    )


async def _enrol(stores: Stores) -> None:
    await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
    await stores.lifecycle.assign_card(ANA, "ana", Actor.cli())


BATCHES = [
    [swipe(ANA, 1), swipe(NOBODY, 2)],
    [swipe(ANA, 3, hw=None), swipe(NOBODY, 4), swipe(NOBODY, 5), swipe(ANA, 6)],
]


async def _record_all(url: str, *, core: bool) -> list[list[Person | None]]:
    async with open_stores(url) as stores:
        await _enrol(stores)
        if core:  # what SwipeStore does on an in-memory database: the engine's path
            stores.swipes._sqlite = None
        return [await stores.swipes.record_swipes(batch) for batch in BATCHES]


async def test_the_thread_stores_what_the_core_path_stores(tmp_path: Path) -> None:
    fast, core = f"sqlite:///{tmp_path / 'fast.db'}", f"sqlite:///{tmp_path / 'core.db'}"
    answers = await _record_all(fast, core=False)
    assert answers == await _record_all(core, core=True)
    ana = Person("ana", "Ana")
    assert answers == [[ana, None], [ana, None, None, ana]]
    events = (
        "SELECT event_key, typeof(event_key), person_uid, card_key, direction, reader,"
        " reader_hw_id, received_at, typeof(received_at), outcome, gateway_id, source"
        " FROM clock_events ORDER BY id"
    )
    unknown = "SELECT * FROM unknown_swipes ORDER BY card_key"
    assert sql(fast, events) == sql(core, events)
    assert sql(fast, unknown) == sql(core, unknown)
    assert len(sql(fast, events)) == 3
    assert sql(fast, unknown)[0][3] == 3  # the unknown card once, then twice in a batch
    # Read back through the stores, the rows are the swipes that were recorded.
    async with open_stores(fast, init=False) as stores:
        stored = await stores.events.events_since(0)
    assert [(e.event_key, e.received_at) for e in stored] == [
        (s.event_key, s.received_at) for s in (BATCHES[0][0], BATCHES[1][0], BATCHES[1][3])
    ]


async def test_the_connection_is_durable_and_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    async with open_stores(url) as stores:
        await _enrol(stores)
        writer = stores.swipes._sqlite
        assert writer is not None
        await stores.swipes.record_swipes([swipe(ANA, 1)])
        first = writer._conn
        await stores.swipes.record_swipes([swipe(ANA, 2)])
        assert writer._conn is first  # one connection, not one per batch
        loop = asyncio.get_running_loop()
        assert writer._executor is not None

        def pragmas() -> tuple[object, ...]:
            conn = writer._connect()
            return tuple(
                conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys")
            )

        # WAL, synchronous=FULL (2): COMMIT returns once the WAL is fsync'd.
        assert await loop.run_in_executor(writer._executor, pragmas) == ("wal", 2, 1)
    assert writer._executor is None and writer._conn is None  # closed with the stores


async def test_a_refused_row_is_invalid_input_and_nothing_is_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    async with open_stores(url) as stores:
        await _enrol(stores)
        sql(
            url,
            "CREATE TRIGGER refuse_late BEFORE INSERT ON clock_events"
            " WHEN NEW.reader_hw_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        with pytest.raises(InvalidInputError, match="refused by the database: refused"):
            await stores.swipes.record_swipes([swipe(ANA, 1), swipe(ANA, 2, hw="bad")])
        assert count(url, "clock_events") == 0
        # The connection goes on: the next batch is stored.
        assert await stores.swipes.record_swipes([swipe(ANA, 3)]) == [Person("ana", "Ana")]
    assert count(url, "clock_events") == 1


async def test_a_locked_database_is_unavailable_then_the_next_batch_is_stored(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    async with open_stores(url) as stores:
        await _enrol(stores)
    async with open_stores(url, init=False, connect_timeout=0.2) as stores:
        holder = sqlite3.connect(tmp_path / "gateway.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
        try:
            with pytest.raises(DatabaseUnavailableError, match="database is locked"):
                await stores.swipes.record_swipes([swipe(ANA, 1)])
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert await stores.swipes.record_swipes([swipe(ANA, 2)]) == [Person("ana", "Ana")]
    assert count(url, "clock_events") == 1


async def test_a_missing_file_is_unavailable_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "gateway.db"
    stores = Stores.open(f"sqlite:///{path}")
    try:
        with pytest.raises(DatabaseUnavailableError, match="no directory") as raised:
            await stores.swipes.record_swipes([swipe(ANA, 1)])
        assert "\n" not in str(raised.value)
        (tmp_path / "gone").mkdir()
        with pytest.raises(DatabaseUnavailableError):
            await stores.swipes.record_swipes([swipe(ANA, 1)])
        assert not path.exists()  # never a new empty database
    finally:
        await stores.close()
