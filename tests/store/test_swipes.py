"""SwipeStore.record_swipes: the swipe path's lookup and insert in one transaction,
on PostgreSQL (one statement) and SQLite (SQLAlchemy Core) alike."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain import ClockEvent, Direction, Outcome, Person
from gateway.errors import InvalidInputError
from gateway.store.audit import Actor
from tests.store.support import count, open_stores, sql

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
ANA, BOB, GONE, NOBODY = "04A1B2C3", "04112233445566", "CAFEBABE", "DEADBEEF"


def swipe(card: str, n: int, *, outcome: Outcome = Outcome.RECORDED) -> ClockEvent:
    return ClockEvent(
        event_key=uuid.uuid5(uuid.NAMESPACE_OID, f"{card}/{n}"),
        card_key=card,
        direction=Direction.IN if n % 2 else Direction.OUT,
        reader="entrance",
        reader_hw_id="a1b2c3d4",
        received_at=T0 + timedelta(seconds=n),
        outcome=outcome,
    )


async def test_a_batch_is_looked_up_and_stored_in_order_exactly_once(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        for uid, name in (("ana", "Ana"), ("bob", "Bob"), ("gone", "Gone")):
            await stores.lifecycle.add_person(uid, name, Actor.cli())
        await stores.lifecycle.assign_card(ANA, "ana", Actor.cli())
        await stores.lifecycle.assign_card(BOB, "bob", Actor.cli())
        await stores.lifecycle.assign_card(GONE, "gone", Actor.cli())
        await stores.lifecycle.revoke_card(GONE, Actor.cli())
        batch = [
            swipe(ANA, 1),
            swipe(NOBODY, 2),
            swipe(BOB.lower(), 3, outcome=Outcome.DUPLICATE),
            swipe(GONE, 4),
            swipe(ANA, 5),
            swipe(NOBODY, 6),  # the same unknown card twice in one batch
        ]
        ana, bob = Person("ana", "Ana"), Person("bob", "Bob")
        assert await stores.swipes.record_swipes(batch) == [ana, None, bob, None, ana, None]
        # A retransmitted batch stores nothing new and answers the same.
        assert await stores.swipes.record_swipes(batch) == [ana, None, bob, None, ana, None]
        sql(db_url, "UPDATE people SET active = false WHERE uid = 'bob'")
        assert await stores.swipes.record_swipes([swipe(BOB, 7)]) == [None]
        assert await stores.swipes.record_swipes([]) == []
    rows = sql(
        db_url, "SELECT event_key, person_uid, card_key, outcome FROM clock_events ORDER BY id"
    )
    expected = [(batch[i].event_key, batch[i].card_key.upper()) for i in (0, 2, 4)]
    assert [(uuid.UUID(str(r[0])), r[2]) for r in rows] == expected
    assert [(r[1], r[3]) for r in rows] == [
        ("ana", "recorded"),
        ("bob", "duplicate"),
        ("ana", "recorded"),
    ]
    if not db_url.startswith("sqlite"):  # sqlite3 returns the stored text, not a datetime
        stamps = sql(db_url, "SELECT received_at, reader_hw_id FROM clock_events ORDER BY id")
        assert stamps == [(batch[i].received_at, "a1b2c3d4") for i in (0, 2, 4)]
    # Unknown, revoked and deactivated cards feed the enrolment list, counted per swipe.
    unknown = sql(db_url, "SELECT card_key, count FROM unknown_swipes ORDER BY card_key")
    assert unknown == [(BOB, 1), (GONE, 2), (NOBODY, 4)]


async def test_concurrent_batches_and_a_refused_batch_store_nothing_wrong(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        await stores.lifecycle.assign_card(ANA, "ana", Actor.cli())
        results = await asyncio.gather(
            *(
                stores.swipes.record_swipes([swipe(ANA, 10 * b + i) for i in range(5)])
                for b in range(4)
            )
        )
        assert all(p == Person("ana", "Ana") for batch in results for p in batch)
        bad = ClockEvent(
            event_key=uuid.uuid4(),
            card_key=ANA,
            direction=Direction.IN,
            reader="bad\nreader",
            reader_hw_id=None,
            received_at=T0,
        )
        with pytest.raises(InvalidInputError, match="reader"):
            await stores.swipes.record_swipes([swipe(ANA, 100), bad])
    assert count(db_url, "clock_events") == 20
