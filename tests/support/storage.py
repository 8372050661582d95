"""An in-memory SwipeStorage (gateway/recording/storage.py): the recording units and
the clocking service tested without a database.

It keeps what a database would (events once per event_key, in the order stored; the
enrolment list; the card holders) and checks what it is given with the store's own
validation (gateway.store.validate), so that it refuses what the real store refuses.
A test can make it fail the way a database does:

- `down`: every call raises it (e.g. DatabaseUnavailableError, a database away);
- `answering.clear()`: every call waits until `answering.set()` (a database that
  does not answer within the wait: a lock, a slow disk, a network that drops packets).

Each call is one "transaction" (counted in `transactions`) and yields to the event
loop once, as a real one does, so that the group writer batches what arrives meanwhile.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence

from gateway.domain import ClockEvent, Person, UnknownSwipe, normalise_card_key
from gateway.errors import NotFoundError
from gateway.store import validate
from gateway.store.tables import SCHEMA_VERSION


class MemoryStorage:
    swipe_lanes = 1

    def __init__(self, holders: dict[str, Person] | None = None) -> None:
        self.holders: dict[str, Person] = {
            normalise_card_key(k): p for k, p in (holders or {}).items()
        }
        self.people: set[str] = {p.uid for p in self.holders.values()}
        self.events: list[ClockEvent] = []
        self.unknown: Counter[str] = Counter()  # card key -> swipes on the enrolment list
        self.transactions: Counter[str] = Counter()  # method -> calls
        self.down: Exception | None = None
        self.answering = asyncio.Event()
        self.answering.set()
        self._keys: set[uuid.UUID] = set()

    # -- what a test arranges and reads -------------------------------------------------
    def assign(self, card_key: str, person: Person) -> None:
        self.holders[normalise_card_key(card_key)] = person
        self.people.add(person.uid)

    def revoke(self, card_key: str) -> None:
        del self.holders[normalise_card_key(card_key)]

    @property
    def keys(self) -> list[uuid.UUID]:
        """The stored events' keys, in the order they were stored."""
        return [e.event_key for e in self.events]

    # -- SwipeStorage ------------------------------------------------------------------
    async def _transaction(self, name: str) -> None:
        self.transactions[name] += 1
        await self.answering.wait()
        if self.down is not None:
            raise self.down
        await asyncio.sleep(0)

    async def check(self) -> int:
        await self._transaction("check")
        return SCHEMA_VERSION

    async def find_person_by_card(self, card_key: str) -> Person | None:
        key = normalise_card_key(card_key)
        await self._transaction("find_person_by_card")
        return self.holders.get(key)

    async def card_directory(self) -> dict[str, Person]:
        await self._transaction("card_directory")
        return dict(self.holders)

    async def record_events(self, events: Sequence[ClockEvent]) -> list[bool]:
        """All or nothing, like the store: a person nobody has refuses the batch."""
        checked = [validate.clock_event(e) for e in events]
        await self._transaction("record_events")
        missing = {e.person_uid or "" for e in checked} - self.people
        if missing:
            raise NotFoundError(f"cannot record events: no person with uid {sorted(missing)}")
        return [self._store(e) for e in checked]

    async def record_swipes(self, swipes: Sequence[ClockEvent]) -> list[Person | None]:
        checked = [validate.clock_event(s, with_person=False) for s in swipes]
        await self._transaction("record_swipes")
        holders = [self.holders.get(s.card_key) for s in checked]
        for swipe, person in zip(checked, holders, strict=True):
            if person is None:
                self.unknown[swipe.card_key] += 1
            else:
                self._store(swipe.with_person(person.uid))
        return holders

    async def record_unknown(self, swipe: UnknownSwipe) -> None:
        checked = validate.unknown_swipe(swipe)
        await self._transaction("record_unknown")
        self.unknown[checked.card_key] += 1

    def _store(self, event: ClockEvent) -> bool:
        if event.event_key in self._keys:
            return False
        self._keys.add(event.event_key)
        self.events.append(event)
        return True
