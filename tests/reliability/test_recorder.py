"""The Recorder over a real Stores (SQLite and PostgreSQL) and a real spool: real
outages, locks and refusals. Its routes case by case, over an in-memory storage, are
in tests/recording."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from structlog.testing import capture_logs

from bench.kit.pgcluster import PgCluster
from gateway.domain import ClockEvent, Durability, Person
from gateway.durable.directory import FILE_NAME as DIRECTORY_FILE
from gateway.durable.spool import DEAD_LETTER, Spool
from gateway.recording.recorder import Recorder
from gateway.store.stores import Stores
from gateway.store.swipes import SwipeStore
from tests.reliability.support import (
    closed_port_url,
    make_config,
    make_event,
    seeded_stores,
    stored_keys,
)
from tests.support.wait import described, wait_until_async


class CountingSwipeStore(SwipeStore):
    """The real swipe store, counting the transactions that record swipes."""

    transactions = 0

    async def record_swipes(self, swipes: Sequence[ClockEvent]) -> list[Person | None]:
        self.transactions += 1
        return await super().record_swipes(swipes)


async def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    await wait_until_async(predicate, timeout, described(predicate))


async def test_live_events_are_group_committed(db_url: str, tmp_path: Path) -> None:
    stores = await seeded_stores(db_url, connect_timeout=5)
    swipes = CountingSwipeStore(stores.db)
    recorder = Recorder(
        swipes, tmp_path, make_config(tmp_path, db_url, database={"wait_s": 2.5})
    )  # the most config allows
    await recorder.start()
    events = [make_event(i, reader=r) for i in range(100) for r in ("entrance", "exit")]
    results = await asyncio.gather(*(recorder.record_swipe(e) for e in events))
    assert {r.durability for r in results} == {Durability.DATABASE}
    assert sorted(map(str, await stored_keys(stores))) == sorted(str(e.event_key) for e in events)
    assert swipes.transactions < 50  # 200 concurrent swipes shared transactions
    stats = recorder.stats()
    assert stats.spool_depth == 0 and stats.database_ok and stats.last_db_write_at
    assert all(r.person is not None for r in results)
    await recorder.stop()
    await stores.close()


async def test_database_away_at_start_answers_from_saved_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    stores = await seeded_stores(url)
    first = Recorder(stores.swipes, tmp_path, make_config(tmp_path, url))
    await first.start()
    await wait_for((tmp_path / DIRECTORY_FILE).exists)  # refreshed and saved
    await first.stop()
    await stores.close()

    # Restart during an outage: nothing listens where the database was.
    away = closed_port_url()
    offline = Stores.open(away, connect_timeout=1)
    recorder = Recorder(offline.swipes, tmp_path, make_config(tmp_path, away))
    with capture_logs() as logs:
        await recorder.start()
        await wait_for(lambda: not recorder.stats().database_ok)
    assert any(e["event"] == "directory_refresh_failed" for e in logs)
    started = time.monotonic()
    stored = await recorder.record_swipe(make_event(1))
    assert stored.durability is Durability.SPOOL
    assert time.monotonic() - started < 0.3 * 2
    assert stored.from_cache and stored.person is not None and stored.person.name == "Ana"
    assert (await recorder.record_swipe(make_event(2, card="DEADBEEF"))).person is None
    stats = recorder.stats()
    assert stats.spool_depth == 1 and not stats.database_ok
    assert stats.directory_cards == 1 and stats.directory_age_s is not None
    await recorder.stop()
    await offline.close()


@pytest.mark.postgres
async def test_outage_spools_then_drains_in_order_exactly_once(
    own_cluster: PgCluster, own_pg_url: str, tmp_path: Path
) -> None:
    stores = await seeded_stores(own_pg_url)
    recorder = Recorder(stores.swipes, tmp_path, make_config(tmp_path, own_pg_url))
    await recorder.start()
    sent: list[ClockEvent] = []
    for i in range(30):
        sent.append(make_event(i))
        assert (await recorder.record_swipe(sent[-1])).durability is Durability.DATABASE
    await asyncio.to_thread(own_cluster.stop)
    for i in range(30, 130):
        sent.append(make_event(i))
        assert (await recorder.record_swipe(sent[-1])).durability is Durability.SPOOL
    # The same swipe told twice (a retransmission after a restart) is stored once.
    assert (await recorder.record_swipe(sent[-1])).durability is Durability.SPOOL
    assert recorder.stats().spool_depth == 101
    await asyncio.to_thread(own_cluster.start)
    await wait_for(lambda: recorder.stats().spool_depth == 0)
    # New live swipes go straight to the database again.
    sent.append(make_event(130))
    assert (await recorder.record_swipe(sent[-1])).durability is Durability.DATABASE
    assert await stored_keys(stores) == [e.event_key for e in sent]
    assert recorder.stats().database_ok
    await recorder.stop()
    await stores.close()


@pytest.mark.postgres
async def test_slow_postgres_is_answered_within_the_wait(own_pg_url: str, tmp_path: Path) -> None:
    stores = await seeded_stores(own_pg_url)
    recorder = Recorder(stores.swipes, tmp_path, make_config(tmp_path, own_pg_url))
    await recorder.start()
    assert (await recorder.record_swipe(make_event(0))).durability is Durability.DATABASE
    blocker = await psycopg.AsyncConnection.connect(own_pg_url)
    await blocker.execute("LOCK TABLE clock_events IN ACCESS EXCLUSIVE MODE")
    latencies = []
    for i in range(1, 21):
        started = time.monotonic()
        assert (await recorder.record_swipe(make_event(i))).durability is Durability.SPOOL
        latencies.append(time.monotonic() - started)
    assert max(latencies) < 0.3 + 0.25  # the bounded wait, plus an fsync
    await blocker.rollback()  # the lock goes away
    await blocker.close()
    await wait_for(lambda: recorder.stats().spool_depth == 0)
    assert await stored_keys(stores) == [make_event(i).event_key for i in range(21)]
    await recorder.stop()
    await stores.close()


async def test_slow_sqlite_is_answered_within_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    url = f"sqlite:///{path}"
    stores = await seeded_stores(url, connect_timeout=5)
    recorder = Recorder(stores.swipes, tmp_path, make_config(tmp_path, url))
    await recorder.start()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    started = time.monotonic()
    assert (await recorder.record_swipe(make_event(1))).durability is Durability.SPOOL
    assert time.monotonic() - started < 0.3 + 0.25
    blocker.execute("COMMIT")
    blocker.close()
    await wait_for(lambda: recorder.stats().spool_depth == 0)
    assert await stored_keys(stores) == [make_event(1).event_key]
    await recorder.stop()
    await stores.close()


async def test_refused_event_goes_to_dead_letter_and_the_rest_is_stored(
    db_url: str, tmp_path: Path
) -> None:
    stores = await seeded_stores(db_url)
    recorder = Recorder(stores.swipes, tmp_path, make_config(tmp_path, db_url))
    await recorder.start()
    ghost = make_event(2, person="nobody")  # a person deleted since the card lookup
    for event in (make_event(1), ghost, make_event(3)):
        await recorder.spool.append(event)
    with capture_logs() as logs:
        await wait_for(lambda: recorder.stats().spool_depth == 0)
    assert await stored_keys(stores) == [make_event(1).event_key, make_event(3).event_key]
    assert recorder.stats().dead_letters == 1
    assert str(ghost.event_key) in (tmp_path / "spool" / DEAD_LETTER).read_text()
    assert any(e["event"] == "spool_dead_letter" and e["log_level"] == "error" for e in logs)
    # Refused live: kept locally (never a silent loss) and dead-lettered by the drainer.
    refused = replace(make_event(4), reader="entrance\x07")  # the store refuses the name
    assert (await recorder.record_swipe(refused)).durability is Durability.SPOOL
    await wait_for(lambda: recorder.stats().dead_letters == 2)
    await recorder.stop()
    await stores.close()


async def test_replaying_what_the_database_already_has_stores_nothing_twice(
    db_url: str, tmp_path: Path
) -> None:
    stores = await seeded_stores(db_url)
    events = [make_event(i) for i in range(10)]
    await stores.swipes.record_events(events[:6])  # committed, then the daemon died before its ack
    spool = Spool(tmp_path / "spool")  # what the previous run left
    await spool.open()
    for event in events:
        await spool.append(event)
    await spool.close()
    recorder = Recorder(stores.swipes, tmp_path, make_config(tmp_path, db_url))
    await recorder.start()
    await wait_for(lambda: recorder.stats().spool_depth == 0)
    assert await stored_keys(stores) == [e.event_key for e in events]
    await recorder.stop()
    await stores.close()


async def test_unknown_swipes_wait_in_memory_for_the_database(
    own_cluster: PgCluster, own_pg_url: str, tmp_path: Path
) -> None:
    stores = await seeded_stores(own_pg_url)
    recorder = Recorder(stores.swipes, tmp_path, make_config(tmp_path, own_pg_url))
    await recorder.start()
    await asyncio.to_thread(own_cluster.stop)
    unknown = await recorder.record_swipe(make_event(0, card="DEADBEEF"))
    assert (unknown.person, unknown.durability) == (None, None)
    assert recorder.stats().unknown_pending == 1
    await asyncio.to_thread(own_cluster.start)
    await wait_for(lambda: recorder.stats().unknown_pending == 0)
    assert [u.card_key for u in await stores.people.unknown_swipes()] == ["DEADBEEF"]
    await recorder.stop()
    await stores.close()
