"""SwipeStore.record_events: idempotent, all-or-nothing batches (the drainer's replay)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.domain import Direction, Outcome
from gateway.errors import InvalidInputError, NotFoundError
from gateway.store.audit import Actor
from tests.store.support import count, event, open_stores

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_events_are_stored_once_per_event_key(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        first, second = event(at=T0), event(at=T0 + timedelta(hours=8), direction=Direction.OUT)
        assert await stores.swipes.record_events([first, first, second]) == [True, False, True]
        assert await stores.swipes.record_events([second, first]) == [False, False]
        assert await stores.swipes.record_events([]) == []
        dup = event(at=T0 + timedelta(seconds=2), outcome=Outcome.DUPLICATE)
        assert await stores.swipes.record_events([dup]) == [True]
        stored = await stores.events.events_since(0)
    assert [(e.event_key, e.outcome) for e in stored] == [
        (first.event_key, Outcome.RECORDED),
        (second.event_key, Outcome.RECORDED),
        (dup.event_key, Outcome.DUPLICATE),
    ]
    got = stored[0]
    assert (got.person_uid, got.card_key, got.direction, got.reader, got.reader_hw_id) == (
        "ana",
        "04A1B2C3",
        Direction.IN,
        "entrance",
        "a1b2c3d4",
    )
    assert got.received_at == T0 and got.received_at.utcoffset() == timedelta(0)
    assert got.stored_at.tzinfo is not None
    assert abs(got.stored_at - datetime.now(UTC)) < timedelta(minutes=5)


async def test_a_bad_batch_stores_nothing(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        good = event(at=T0)
        with pytest.raises(NotFoundError, match="ghost"):
            await stores.swipes.record_events([good, event("ghost", at=T0)])
        with pytest.raises(InvalidInputError, match="invalid card key"):
            await stores.swipes.record_events([good, event(card="12345")])
        with pytest.raises(InvalidInputError, match="aware"):
            await stores.swipes.record_events([good, event(at=datetime(2026, 11, 27, 8, 0))])
        assert await stores.events.events_since(0) == []
        # The good event is still new afterwards: nothing was half-written.
        assert await stores.swipes.record_events([good]) == [True]
    assert count(db_url, "clock_events") == 1


async def test_times_come_back_as_the_same_instant_in_utc(db_url: str) -> None:
    madrid_summer = timezone(timedelta(hours=2))
    at = datetime(2026, 7, 1, 9, 30, 15, 123456, tzinfo=madrid_summer)
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        await stores.swipes.record_events([event(at=at)])
        got = await stores.events.last_event("ana")
    assert got is not None
    assert got.received_at == at
    assert got.received_at.tzinfo is not None and got.received_at.utcoffset() == timedelta(0)
    assert got.received_at.hour == 7 and got.received_at.microsecond == 123456


async def test_concurrent_batches_all_land(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        batches = [
            [event(at=T0 + timedelta(seconds=i * 10 + j)) for j in range(5)] for i in range(8)
        ]
        results = await asyncio.gather(*(stores.swipes.record_events(b) for b in batches))
        assert all(all(r) for r in results)
    assert count(db_url, "clock_events") == 40


async def test_an_event_without_its_person_is_refused(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        nobody = replace(event(at=T0), person_uid=None)
        with pytest.raises(InvalidInputError, match="names no person"):
            await stores.swipes.record_events([event(at=T0), nobody])
    assert count(db_url, "clock_events") == 0
