"""Checks on values before they reach the database, so errors name the value plainly."""

from __future__ import annotations

import functools
import unicodedata
from datetime import datetime, time

from gateway.domain import (
    ClockEvent,
    Direction,
    Outcome,
    UnknownSwipe,
    normalise_card_key,
)
from gateway.errors import InvalidInputError
from gateway.store.models import TimetableEntry

MAX_UID = 64
MAX_NAME = 200
MAX_READER = 64


@functools.lru_cache(maxsize=4096)
def _has_control(text: str) -> bool:
    # Cached: every swipe checks its reader's name and hardware id, and there are few.
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def uid(value: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidInputError("uid must not be empty")
    if len(text) > MAX_UID or any(ch.isspace() for ch in text) or _has_control(text):
        raise InvalidInputError(
            f"invalid uid {value!r}: use up to {MAX_UID} characters without spaces"
        )
    return text


def name(value: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise InvalidInputError("name must not be empty")
    if len(text) > MAX_NAME or _has_control(text):
        raise InvalidInputError(f"invalid name {value!r}: up to {MAX_NAME} printable characters")
    return text


def aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(f"{what} must be an aware datetime, got {value!r}")
    return value


def reader(value: str) -> str:
    if not value or len(value) > MAX_READER or _has_control(value):
        raise InvalidInputError(f"invalid reader name {value!r}")
    return value


def hardware_id(value: str | None) -> str | None:
    if value is not None and (len(value) > MAX_READER or _has_control(value)):
        raise InvalidInputError(f"invalid reader hardware id {value!r}")
    return value


def clock_event(event: ClockEvent, *, with_person: bool = True) -> ClockEvent:
    """The event with its card key normalised; InvalidInputError if anything is off.

    with_person: the event must name its person (record_events); False for a swipe
    whose holder the store looks up itself (record_swipes): person_uid is dropped.
    """
    try:
        direction = Direction(event.direction)
        outcome = Outcome(event.outcome)
    except ValueError as exc:
        raise InvalidInputError(f"event {event.event_key}: {exc}") from None
    person = None
    if with_person:
        if event.person_uid is None:
            raise InvalidInputError(f"event {event.event_key} names no person")
        person = uid(event.person_uid)
    return ClockEvent(
        event_key=event.event_key,
        person_uid=person,
        card_key=normalise_card_key(event.card_key),
        direction=direction,
        reader=reader(event.reader),
        reader_hw_id=hardware_id(event.reader_hw_id),
        received_at=aware(event.received_at, "received_at"),
        outcome=outcome,
    )


def unknown_swipe(swipe: UnknownSwipe) -> UnknownSwipe:
    return UnknownSwipe(
        card_key=normalise_card_key(swipe.card_key),
        reader=reader(swipe.reader),
        reader_hw_id=hardware_id(swipe.reader_hw_id),
        seen_at=aware(swipe.seen_at, "seen_at"),
    )


def weekday(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 7:
        raise InvalidInputError(f"invalid weekday {value!r}: ISO weekday 1 (Monday) to 7 (Sunday)")
    return value


def timetable_entry(entry: TimetableEntry) -> TimetableEntry:
    for label, value in (("start", entry.start), ("end", entry.end)):
        if not isinstance(value, time) or value.tzinfo is not None:
            raise InvalidInputError(
                f"timetable {entry.person_uid}: {label} must be a local time, got {value!r}"
            )
    if entry.start == entry.end:
        raise InvalidInputError(
            f"timetable {entry.person_uid} weekday {entry.weekday}: start and end are both "
            f"{entry.start:%H:%M}"
        )
    if _has_control(entry.room):
        raise InvalidInputError(f"timetable {entry.person_uid}: invalid room {entry.room!r}")
    return TimetableEntry(
        person_uid=uid(entry.person_uid),
        weekday=weekday(entry.weekday),
        start=entry.start,
        end=entry.end,
        room=entry.room.strip(),
    )
