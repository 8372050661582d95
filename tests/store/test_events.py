"""EventStore: the export cursor and the reports' stream, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import InvalidInputError
from gateway.store import events as events_module
from gateway.store.audit import Actor
from tests.store.support import event, open_stores

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_last_event_and_the_export_cursor(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        await stores.lifecycle.add_person("bob", "Bob", Actor.cli())
        assert await stores.events.last_event("ana") is None
        late, early = event(at=T0 + timedelta(hours=1)), event(at=T0)
        # Stored out of received order, as a spool replay can do.
        await stores.swipes.record_events([late])
        await stores.swipes.record_events(
            [early, event("bob", "CAFEBABE", at=T0 + timedelta(hours=2))]
        )
        last = await stores.events.last_event("ana")
        assert last is not None and last.event_key == late.event_key
        everything = await stores.events.events_since(0)
        assert [e.id for e in everything] == sorted(e.id for e in everything)
        page = await stores.events.events_since(0, limit=2)
        rest = await stores.events.events_since(page[-1].id)
        assert [e.event_key for e in page + rest] == [e.event_key for e in everything]
        assert await stores.events.events_since(everything[-1].id) == []


async def test_events_between_streams_in_received_order(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so that the stream crosses several chunk boundaries, including
    # ties on received_at that only the id breaks.
    monkeypatch.setattr(events_module, "_STREAM_CHUNK", 3)
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        await stores.lifecycle.add_person("bob", "Bob", Actor.cli())
        times = [T0 + timedelta(minutes=m) for m in (5, 1, 3, 3, 3, 9, 0, 7, 3, 12)]
        events = [event("ana" if i % 2 else "bob", at=t) for i, t in enumerate(times)]
        await stores.swipes.record_events(events)
        window_start, window_end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=9)
        got = [e async for e in stores.events.events_between(window_start, window_end)]
        assert [e.received_at for e in got] == sorted(
            t for t in times if window_start <= t < window_end
        )
        assert len({e.event_key for e in got}) == len(got) == 7
        only_ana = [
            e async for e in stores.events.events_between(T0, T0 + timedelta(days=1), "ana")
        ]
        assert {e.person_uid for e in only_ana} == {"ana"} and len(only_ana) == 5
        with pytest.raises(InvalidInputError):
            [e async for e in stores.events.events_between(datetime(2026, 1, 1), T0)]
