"""The domain's plain data types, shared by the clocking service, the store and reports.

Nothing here does I/O. The clocking service speaks to storage only through the
`EventSink` protocol below, so it knows no SQL and no files; the store implements it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from gateway.errors import InvalidInputError

# The gateway id of rows stored before gateways had one (schema v2's column default).
DEFAULT_GATEWAY_ID = "default"


class Direction(StrEnum):
    """Clocking in or out: the one type for it, parsed once from the configuration.

    It is the reader's configured role; the wire's `Role` (with its UNSET) stays in
    gateway.protocol, and the link alone translates between the two.
    """

    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class IncomingSwipe:
    """One new SWIPE as a reader's link hands it to the clocking service."""

    reader: str  # the configured reader name
    direction: Direction  # from the configuration, never from the reader or a toggle
    hardware_id: bytes  # the reader's, from HELLO
    session: int  # the reader's boot session id, from HELLO
    seq: int
    uid: bytes
    received_at: datetime  # when the gateway received it (aware, UTC)

    @property
    def card_key(self) -> str:
        return card_key_from_uid(self.uid)


class Outcome(StrEnum):
    RECORDED = "recorded"  # a clock-in or clock-out that counts
    DUPLICATE = (
        "duplicate"  # same card, same reader, within the duplicate window: kept, not counted
    )


class Durability(StrEnum):
    """Where an acknowledged event is durable."""

    DATABASE = "database"  # committed in the database
    SPOOL = "spool"  # fsync'd to the local spool; the drainer will replay it


@dataclass(frozen=True)
class Person:
    uid: str
    name: str
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class ClockEvent:
    """One swipe as the gateway records it (the card's holder named once known).

    The clocking service hands it to storage with person_uid None: the store looks
    the card up and records the event in one go. The spool, the drainer's replay
    and reports see it with person_uid filled in (`with_person`).
    """

    event_key: uuid.UUID  # idempotency key: the same key twice stores one row
    person_uid: str | None = None  # the card's active holder; None until looked up
    card_key: str
    direction: Direction
    reader: str  # the configured reader name
    reader_hw_id: str | None  # hex of the reader's hardware id, from HELLO
    received_at: datetime  # when the gateway received the swipe (aware, UTC)
    outcome: Outcome = Outcome.RECORDED
    gateway_id: str = DEFAULT_GATEWAY_ID  # the gateway that recorded it ([gateway] id)

    def with_person(self, person_uid: str) -> ClockEvent:
        return replace(self, person_uid=person_uid)

    def unknown(self) -> UnknownSwipe:
        """The swipe of a card nobody holds, for the enrolment list."""
        return UnknownSwipe(
            card_key=self.card_key,
            reader=self.reader,
            reader_hw_id=self.reader_hw_id,
            seen_at=self.received_at,
            gateway_id=self.gateway_id,
        )


@dataclass(frozen=True)
class UnknownSwipe:
    """A card nobody holds, seen on a reader: it feeds the enrolment list."""

    card_key: str
    reader: str
    reader_hw_id: str | None
    seen_at: datetime
    gateway_id: str = DEFAULT_GATEWAY_ID


@dataclass(frozen=True)
class CardLookup:
    """Who holds a card, and whether the answer came from the database or the cache."""

    person: Person | None
    from_cache: bool = False


@dataclass(frozen=True)
class SwipeStored:
    """What became of a swipe: its card's active holder and where the event is durable.

    person None: nobody (active) holds the card; no event was stored, and the card
    went on the enrolment list (best effort). Otherwise durability says where the
    event is durable. from_cache: the holder came from the last-known directory
    because the database did not answer.
    """

    person: Person | None
    durability: Durability | None
    from_cache: bool = False


class StoreUnavailableError(Exception):
    """Neither the database nor the local spool can take an event: answer KO, never OK.

    `reason` is a short machine word (for logs, and for the reader's message): the
    spool's ("spool_full", "disk_full", "read_only", "permission_denied", "io_error",
    "too_large", "internal", "closed") or "not_running".
    """

    def __init__(self, message: str, reason: str = "unavailable") -> None:
        super().__init__(message)
        self.reason = reason


class EventSink(Protocol):
    """What the clocking service needs from storage."""

    async def record_swipe(self, swipe: ClockEvent) -> SwipeStored:
        """Look the card up and, for an active holder, make the event durable
        (idempotent on event_key) before returning; an unknown card goes on the
        enrolment list instead (best effort).

        Raises StoreUnavailableError when a known card's event cannot be made durable
        anywhere.
        """
        ...


# ISO 14443-A UIDs are 4, 7 or 10 bytes: 8, 14 or 20 hex digits.
_CARD_KEY = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
_SEPARATORS = re.compile(r"[\s:.-]")


def normalise_card_key(text: str) -> str:
    """Upper-case hex without separators: '04:a1:b2:c3' -> '04A1B2C3'.

    Raises InvalidInputError for anything that is not a 4, 7 or 10-byte UID.
    """
    key = _SEPARATORS.sub("", text.strip()).upper()
    if key.startswith("0X"):
        key = key[2:]
    if not _CARD_KEY.match(key):
        raise InvalidInputError(
            f"invalid card key {text!r}: expected 8, 14 or 20 hex digits (a 4, 7 or 10-byte UID)"
        )
    return key


def card_key_from_uid(uid: bytes) -> str:
    return uid.hex().upper()


# Namespace for deterministic event keys (section 3 of docs/PROTOCOL.md).
_EVENT_NAMESPACE = uuid.UUID("6f1c3d2a-8b1e-4c55-9a57-2f0d4c7e9b10")


def hardware_id_text(hardware_id: bytes) -> str:
    """How a reader's hardware id is logged, stored and shown: 16 upper-case hex digits
    (docs/PROTOCOL.md section 4.2)."""
    return hardware_id.hex().upper()


def event_key_for(hardware_id: bytes, session: int, seq: int, card_key: str) -> uuid.UUID:
    """The idempotency key of a swipe: the same (reader, session, seq, card) gives the same key.

    A retransmitted SWIPE therefore maps to the event already stored, even after a
    gateway restart; the card key is part of it so that a reader that reuses a session
    id by mistake cannot swallow another card's swipe.
    """
    # Lower-case hex here, for good: the key of a swipe must never change, or a
    # retransmission or replay after an upgrade would be stored twice.
    return uuid.uuid5(_EVENT_NAMESPACE, f"{hardware_id.hex()}/{session}/{seq}/{card_key}")
