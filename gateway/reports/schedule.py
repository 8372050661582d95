"""The timetable turned into real intervals: which blocks a day has, who is due when.

Timetable rows hold local wall-clock times and an ISO weekday. A row whose end is
earlier than its start crosses midnight and ends on the next day. Blocks are built on
UTC instants, so a block over a DST change has its true length (e.g. 22:00-06:00 on
the last Sunday of October in Madrid lasts 9 hours).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from gateway.store.models import TimetableEntry


@dataclass(frozen=True)
class Block:
    """A stretch of time a person is due, in UTC; `day` is the local date it starts on."""

    day: date
    start: datetime
    end: datetime
    rooms: tuple[str, ...]

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def crosses_midnight(entry: TimetableEntry) -> bool:
    return entry.end < entry.start


def entry_interval(entry: TimetableEntry, day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC interval of a timetable row on a given local date (of its weekday)."""
    end_day = day + timedelta(days=1) if crosses_midnight(entry) else day
    start = datetime.combine(day, entry.start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(end_day, entry.end, tzinfo=zone).astimezone(UTC)
    return start, end


def blocks_for_day(entries: Iterable[TimetableEntry], day: date, zone: tzinfo) -> list[Block]:
    """The day's rows as blocks; back-to-back or overlapping rows merge into one block
    (consecutive teaching slots are one stretch of presence, not several arrivals)."""
    spans = sorted(
        (*entry_interval(e, day, zone), e.room) for e in entries if e.weekday == day.isoweekday()
    )
    blocks: list[Block] = []
    for start, end, room in spans:
        if blocks and start <= blocks[-1].end:
            last = blocks[-1]
            rooms = last.rooms if room in last.rooms else (*last.rooms, room)
            blocks[-1] = Block(day, last.start, max(last.end, end), rooms)
        else:
            blocks.append(Block(day, start, end, (room,)))
    return blocks


def covering(
    entries: Sequence[TimetableEntry], instant: datetime, zone: tzinfo
) -> list[tuple[TimetableEntry, datetime, datetime]]:
    """The rows (with their UTC interval) that cover `instant`: today's rows, and
    yesterday's rows that cross midnight into today."""
    today = instant.astimezone(zone).date()
    found = []
    for day in (today - timedelta(days=1), today):
        for entry in entries:
            if entry.weekday != day.isoweekday():
                continue
            start, end = entry_interval(entry, day, zone)
            if start <= instant < end:
                found.append((entry, start, end))
    return found
