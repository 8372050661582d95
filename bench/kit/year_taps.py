"""The pieces of a generated year of taps that bench.reports and bench.export share:
the zone, local wall-clock times, one tap as a ClockEvent, and storing them in batches.

Each benchmark keeps its own shape of day (reports: shifts, breaks, duplicates;
export: four sessions and corrections); this is only what they had copied.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from gateway.domain import ClockEvent, Direction, Outcome
from gateway.store.stores import Stores

ZONE = ZoneInfo("Europe/Madrid")
BATCH = 5000  # events per record_events call while seeding


def wall(day: date, at: clock_time, minutes: float) -> datetime:
    """`at` on `day` in the lab's zone, `minutes` later, in UTC (DST-correct)."""
    local = datetime.combine(day, at, tzinfo=ZONE) + timedelta(minutes=minutes)
    return local.astimezone(UTC)


def tap(
    rng: random.Random,
    uid: str,
    card: str,
    direction: Direction,
    moment: datetime,
    outcome: Outcome = Outcome.RECORDED,
) -> ClockEvent:
    """One tap at the entrance or exit reader; its key drawn from `rng` (deterministic)."""
    return ClockEvent(
        event_key=uuid.UUID(int=rng.getrandbits(128)),
        person_uid=uid,
        card_key=card,
        direction=direction,
        reader="entrada" if direction == Direction.IN else "salida",
        reader_hw_id=None,
        received_at=moment,
        outcome=outcome,
    )


async def store_events(stores: Stores, events: Sequence[ClockEvent]) -> None:
    for i in range(0, len(events), BATCH):
        await stores.swipes.record_events(events[i : i + BATCH])
