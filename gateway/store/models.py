"""Rows the stores return (and the timetable rows it takes): plain frozen data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Protocol

from gateway.domain import Direction, Outcome


@dataclass(frozen=True)
class StoredEvent:
    """A clock event as stored; `id` is the export cursor (increasing in store order)."""

    id: int
    event_key: uuid.UUID
    person_uid: str
    card_key: str
    direction: Direction
    reader: str
    reader_hw_id: str | None
    received_at: datetime  # aware, UTC
    stored_at: datetime  # aware, UTC
    outcome: Outcome
    gateway_id: str = "default"  # the gateway that recorded it
    source: str = "reader"  # 'import': brought over from the original system


@dataclass(frozen=True)
class TimetableEntry:
    """Who is expected when: ISO weekday (1 = Monday), local wall-clock times.

    `end` earlier than `start` means the shift crosses midnight into the next day.
    """

    person_uid: str
    weekday: int
    start: time
    end: time
    room: str = ""


@dataclass(frozen=True)
class PersonRow:
    uid: str
    name: str
    active: bool
    cards: list[str] = field(default_factory=list)  # active card keys, sorted
    erased: bool = False  # erased (schema v3 keeps the register, see store/lifecycle.py)


@dataclass(frozen=True)
class UnknownSwipeRow:
    card_key: str
    first_seen: datetime
    last_seen: datetime
    count: int
    last_reader: str
    last_reader_hw_id: str | None


@dataclass(frozen=True)
class PersonImport:
    """One row of `users import`: `line` is the file's line number, for messages."""

    line: int
    uid: str
    name: str
    card_key: str | None = None


@dataclass(frozen=True)
class ImportResult:
    """What importing one row did, e.g. 'added', 'unchanged'; `card` likewise or None."""

    line: int
    uid: str
    person: str
    card: str | None


class SwipeFacts(Protocol):
    """What the report rules read from an event; StoredEvent and the rows of
    Repository.swipes_between both have it."""

    @property
    def person_uid(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def outcome(self) -> str: ...
