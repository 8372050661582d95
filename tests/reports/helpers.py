"""Building events and timetable rows for the report tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from gateway.domain import ClockEvent, Direction, Outcome
from gateway.store.audit import Actor
from gateway.store.models import StoredEvent, TimetableEntry
from gateway.store.stores import Stores

MADRID = ZoneInfo("Europe/Madrid")
_ids = itertools.count(1)


def local(day: str, hhmm: str, zone: ZoneInfo = MADRID, *, fold: int = 0) -> datetime:
    """A local wall-clock time in `zone`, as an aware UTC instant."""
    wall = datetime.combine(date.fromisoformat(day), time.fromisoformat(hhmm), tzinfo=zone)
    return wall.replace(fold=fold).astimezone(UTC)


def clock(
    uid: str, direction: str, at: datetime, *, duplicate: bool = False, card: str = "04A1B2C3"
) -> ClockEvent:
    return ClockEvent(
        event_key=uuid.uuid4(),
        person_uid=uid,
        card_key=card,
        direction=Direction(direction),
        reader="entrada" if direction == "in" else "salida",
        reader_hw_id=None,
        received_at=at,
        outcome=Outcome.DUPLICATE if duplicate else Outcome.RECORDED,
    )


def stored(event: ClockEvent) -> StoredEvent:
    """The event as the event store would return it (for the pure-logic tests)."""
    return StoredEvent(
        id=next(_ids),
        event_key=event.event_key,
        person_uid=event.person_uid,
        card_key=event.card_key,
        direction=event.direction,
        reader=event.reader,
        reader_hw_id=event.reader_hw_id,
        received_at=event.received_at,
        stored_at=event.received_at,
        outcome=event.outcome,
    )


def row(uid: str, weekday: int, start: str, end: str, room: str = "A1") -> TimetableEntry:
    return TimetableEntry(
        person_uid=uid,
        weekday=weekday,
        start=time.fromisoformat(start),
        end=time.fromisoformat(end),
        room=room,
    )


PEOPLE = {"ana": "Ana García", "luis": "Luis Pérez", "eva": "Eva Martín", "pau": "Pau Soler"}


async def seeded(url: str) -> Stores:
    """A database with the schema and PEOPLE, each with a card."""
    stores = Stores.open(url)
    await stores.db.init_schema()
    for i, (uid, name) in enumerate(sorted(PEOPLE.items())):
        await stores.lifecycle.add_person(uid, name, Actor.cli())
        await stores.lifecycle.assign_card(f"04A1B2{i:02X}", uid, Actor.cli())
    return stores
