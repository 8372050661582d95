"""Corrections applied to the events a report or `who` reads.

A void removes its event from the stream; an add puts a punch into it at its instant.
The events themselves are never changed. Days (and people on the board) touched by
a correction are marked, so a reader of the figures knows they are not raw taps.

Only corrections in force count: those made before agreement existed (schema v5) and
those the other side accepted. A pending one changes nothing yet; `pending_days` names
the days it would touch, so a report can show it apart. Rejected and withdrawn ones
stay in the register's trail and nowhere else.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Protocol

from gateway.domain import Direction, Outcome
from gateway.reports.rules import as_utc


class CorrectionFacts(Protocol):
    """What applying a correction reads (gateway.store.corrections.CorrectionRow)."""

    @property
    def id(self) -> int: ...
    @property
    def person_uid(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def event_id(self) -> int | None: ...
    @property
    def in_force(self) -> bool: ...
    @property
    def state(self) -> str: ...


def in_force(corrections: Iterable[CorrectionFacts]) -> list[CorrectionFacts]:
    return [c for c in corrections if c.in_force]


@dataclass(frozen=True)
class CorrectedPunch:
    """A punch added by a correction: it reads like a stored event."""

    person_uid: str
    direction: Direction
    received_at: datetime
    correction_id: int
    outcome: Outcome = Outcome.RECORDED
    id: int | None = None  # not an event
    source: str = "correction"  # neither a reader's tap nor an imported one


def _added(corrections: Sequence[CorrectionFacts]) -> list[CorrectedPunch]:
    return sorted(
        (
            CorrectedPunch(c.person_uid, Direction(c.direction), as_utc(c.at), c.id)
            for c in corrections
            if c.kind == "add"
        ),
        key=lambda p: p.received_at,
    )


def _voided(corrections: Sequence[CorrectionFacts]) -> set[int]:
    return {c.event_id for c in corrections if c.kind == "void" and c.event_id is not None}


def apply(events: Iterable[Any], corrections: Sequence[CorrectionFacts]) -> Iterator[Any]:
    """Events (with `id` and `received_at`, in received order) minus the voided ones,
    merged with the added punches, still in received order."""
    corrections = in_force(corrections)
    if not corrections:
        yield from events
        return
    voided = _voided(corrections)
    kept = (e for e in events if getattr(e, "id", None) not in voided)
    yield from heapq.merge(kept, _added(corrections), key=lambda e: as_utc(e.received_at))


async def apply_async(
    events: AsyncIterator[Any], corrections: Sequence[CorrectionFacts]
) -> AsyncIterator[Any]:
    """`apply` over a stream, for the reports (which never hold a year of events)."""
    corrections = in_force(corrections)
    voided = _voided(corrections)
    added = _added(corrections)
    i = 0
    async for event in events:
        if getattr(event, "id", None) in voided:
            continue
        moment = as_utc(event.received_at)
        while i < len(added) and added[i].received_at <= moment:
            yield added[i]
            i += 1
        yield event
    for punch in added[i:]:
        yield punch


def corrected_days(corrections: Iterable[CorrectionFacts], zone: tzinfo) -> set[tuple[str, date]]:
    """(uid, local day) of every correction in force's instant."""
    return {(c.person_uid, as_utc(c.at).astimezone(zone).date()) for c in in_force(corrections)}


def pending_days(corrections: Iterable[CorrectionFacts], zone: tzinfo) -> set[tuple[str, date]]:
    """(uid, local day) of every correction still waiting for an answer."""
    return {
        (c.person_uid, as_utc(c.at).astimezone(zone).date())
        for c in corrections
        if c.state == "pending"
    }
