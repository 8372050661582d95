"""Issue 21 item 1: every row sealed, once, into one chain, whoever inserts it and when.

A fleet: several sealers at once on one database, rows committed out of id order (two
swipe lanes, a long import, a spool replayed late), big backlogs in batches.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from gateway.store.seals import SealStore
from tests.register.support import check, fill
from tests.store.support import event, open_stores, sql


async def test_every_kind_of_row_is_sealed_once_in_id_order(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await fill(stores)
        first = await stores.seals.seal_pending(batch=3)  # several transactions
        assert (first.sealed, first.busy, first.pending) == (13, False, 0)
        assert first.head is not None and first.head.seq == 13
        assert (await stores.seals.seal_pending()).sealed == 0
        # A fresh process looks again from the start, and finds nothing to do.
        assert (await SealStore(stores.db).seal_pending()).sealed == 0
        await stores.swipes.record_events([event("ana")])
        assert (await stores.seals.seal_pending()).sealed == 1
        assert (await check(stores)).ok
    rows = sql(db_url, "SELECT seq, kind, row_id FROM seals ORDER BY seq")
    assert [r[0] for r in rows] == list(range(1, 15))
    events = [r[2] for r in rows if r[1] == "event"]
    assert events == sorted(events) == [1, 2, 3, 4, 5]
    assert {r[1] for r in rows[:4]} == {"event"}  # events before the corrections about them


async def test_sealers_running_at_once_build_one_chain(db_url: str) -> None:
    """Four gateways' sealers and a writer at the same time, as on a fleet."""
    async with open_stores(db_url) as stores:
        await fill(stores, events=0)
        sealers = [SealStore(stores.db) for _ in range(4)]
        stop = asyncio.Event()

        async def seal_until_stopped(sealer: SealStore) -> None:
            while not stop.is_set():
                await sealer.seal_pending(batch=7)
                await asyncio.sleep(0)

        async def write() -> None:
            for _ in range(20):
                await stores.swipes.record_events([event("ana") for _ in range(5)])
            stop.set()

        await asyncio.gather(write(), *(seal_until_stopped(s) for s in sealers))
        await sealers[0].seal_pending()
        report = await check(stores)
    assert report.ok, report.findings
    assert report.rows["event"] == 100
    assert sql(
        db_url, "SELECT count(*), count(DISTINCT row_id) FROM seals WHERE kind = 'event'"
    ) == [(100, 100)]


@pytest.mark.postgres
async def test_a_row_committed_after_later_ones_were_sealed_is_sealed_too(pg_url: str) -> None:
    """An id taken before others and committed after them (a second swipe lane, a long
    import): the floor must not pass it while its transaction runs."""
    async with open_stores(pg_url) as stores:
        await fill(stores, events=1)
        assert (await stores.seals.seal_pending()).sealed == 7
        with psycopg.connect(pg_url) as slow:
            # Takes id 2 and stays open...
            slow.execute(
                "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
                "received_at) VALUES (%s, 'ana', '04A1B2C3', 'in', 'entrance', %s)",
                (uuid.uuid4(), datetime.now(UTC)),
            )
            # ...while later taps come in and several sealing rounds pass.
            for _ in range(4):
                await stores.swipes.record_events([event("ana")])
                await stores.seals.seal_pending()
            slow.commit()
        assert (await stores.seals.seal_pending()).sealed == 1
        report = await check(stores)
    assert report.ok, report.findings
    assert sql(pg_url, "SELECT seq FROM seals WHERE kind = 'event' AND row_id = 2") == [(12,)]


@pytest.mark.postgres
async def test_one_sealer_at_a_time_on_postgresql(pg_url: str) -> None:
    async with open_stores(pg_url) as stores:
        await fill(stores, events=2)
        with psycopg.connect(pg_url) as other:
            other.execute("SELECT pg_advisory_xact_lock(%s)", (0x7365616C73,))  # a sealer at work
            busy = await stores.seals.seal_pending()
            assert busy.busy and busy.sealed == 0 and busy.pending > 0
        assert (await stores.seals.seal_pending()).sealed == 11  # its turn, once it is free
