"""The original system's timetable sheet: weekdays across, slots under them, people down.

Layout (detected, never configured):
- row 1: weekday names (Spanish or English) from the second column on, each over a
  block of slot columns (a merged cell: its text is in the block's first column);
- row 2: each slot's start and end as two times in one cell ('8:15' newline '9:15');
  the times come from here, never from a built-in slot table;
- from row 3: one row per person, the name in the first column, one cell per slot:
  empty (free) or the activity, group and room on separate lines.

Each non-empty cell becomes one timetable row for that weekday and slot, the cell's
lines joined with ' - ' as its room (what the original stored). A slot nobody
teaches (the original's sheets carry an always-empty 15:00-16:00) gives no rows.

Slots stay one row each rather than being merged here: the late and absent rules
already treat back-to-back rows as one block (schedule.blocks_for_day, whatever the
room), and rows that match the sheet's cells keep `timetable list` comparable with
the sheet. Slots with a break between them (11:15 and 11:45) stay separate blocks
on purpose: a break is time off, and coming back late from it is late.

Every problem in the sheet is collected, with its cell, before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

from anyascii import anyascii

from gateway.errors import InvalidInputError
from gateway.importing.timetable_file import RowProblem
from gateway.importing.uids import display_name
from gateway.reports.timeparse import weekday_name
from gateway.store.models import TimetableEntry
from gateway.store.validate import MAX_NAME

# Full names and three-letter abbreviations only: a sheet's first row is not the
# place for the one-letter forms (L, M, X) that the long format accepts.
_DAY_NAMES: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("monday", "mon", "lunes", "lun"),
        ("tuesday", "tue", "martes", "mar"),
        ("wednesday", "wed", "miercoles", "mie"),
        ("thursday", "thu", "jueves", "jue"),
        ("friday", "fri", "viernes", "vie"),
        ("saturday", "sat", "sabado", "sab"),
        ("sunday", "sun", "domingo", "dom"),
    ),
    start=1,
):
    for _name in _names:
        _DAY_NAMES[_name] = _number

_CLOCK = re.compile(r"(?<!\d)(\d{1,2})[:.h](\d{2})(?!\d)")


@dataclass(frozen=True)
class Slot:
    weekday: int  # ISO, 1 = Monday
    start: time
    end: time
    column: int  # 0-based


@dataclass(frozen=True)
class GridPerson:
    line: int  # the sheet's row number
    name: str  # as written (whitespace folded)
    rooms: dict[int, str]  # slot column -> the cell's lines joined with ' - '


@dataclass(frozen=True)
class Grid:
    slots: list[Slot]  # only slots somebody teaches, by weekday then start
    people: list[GridPerson]
    skipped_slots: int  # slots with a header but nobody in them

    def entries(self, uids: dict[str, str]) -> list[TimetableEntry]:
        """One row per non-empty cell, for the people `uids` maps (name -> uid)."""
        out = []
        for person in self.people:
            uid = uids.get(person.name)
            if uid is None:
                continue
            for slot in self.slots:
                room = person.rooms.get(slot.column)
                if room is not None:
                    out.append(TimetableEntry(uid, slot.weekday, slot.start, slot.end, room))
        return out


def column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _weekday(text: str) -> int | None:
    return _DAY_NAMES.get(anyascii(text).strip().lower().rstrip("."))


def looks_like_grid(rows: Sequence[Sequence[str]]) -> bool:
    """True when the first row names a weekday in its second column or later."""
    return bool(rows) and any(_weekday(cell) for cell in rows[0][1:])


def _cell(rows: Sequence[Sequence[str]], r: int, c: int) -> str:
    return rows[r][c] if r < len(rows) and c < len(rows[r]) else ""


def _slot_times(text: str) -> tuple[time, time] | None:
    found = _CLOCK.findall(text)
    if len(found) != 2:
        return None
    (h0, m0), (h1, m1) = found
    if not all(int(h) < 24 for h in (h0, h1)) or not all(int(m) < 60 for m in (m0, m1)):
        return None
    return time(int(h0), int(m0)), time(int(h1), int(m1))


def _hm(t: time) -> str:
    return f"{t.hour}:{t.minute:02d}"


def _header(rows: Sequence[Sequence[str]], problems: list[RowProblem]) -> list[Slot]:
    """Every slot the two header rows define, with problems for what they get wrong."""
    width = max(len(r) for r in rows)
    # Every filled cell of row 1 starts a block; a bad name's block yields no slots
    # (it was reported), rather than stretching the block before it.
    days: list[tuple[int, int | None]] = []  # (first column, weekday)
    seen: dict[int, int] = {}
    for c in range(1, width):
        text = _cell(rows, 0, c)
        if not text:
            continue
        day = _weekday(text)
        if day is None:
            problems.append(
                RowProblem(1, f"cell {column_letter(c)}1: {text!r} is not a weekday name")
            )
        elif day in seen:
            problems.append(
                RowProblem(
                    1,
                    f"cell {column_letter(c)}1: {weekday_name(day)} again "
                    f"(already in {column_letter(seen[day])}1)",
                )
            )
            day = None
        else:
            seen[day] = c
        days.append((c, day))
    if not days:
        return []
    first = days[0][0]
    for c in range(1, first):
        if any(_cell(rows, r, c) for r in range(1, len(rows))):
            problems.append(
                RowProblem(2, f"column {column_letter(c)}: entries before the first weekday")
            )
    slots: list[Slot] = []
    for i, (start_col, day) in enumerate(days):
        stop = days[i + 1][0] if i + 1 < len(days) else width
        if day is None:
            continue
        for c in range(start_col, stop):
            text = _cell(rows, 1, c)
            ref = f"{column_letter(c)}2"
            if not text:
                if any(_cell(rows, r, c) for r in range(2, len(rows))):
                    problems.append(
                        RowProblem(
                            2,
                            f"cell {ref}: empty, but column {column_letter(c)} has "
                            "entries (write the slot's start and end there)",
                        )
                    )
                continue
            times = _slot_times(text)
            if times is None:
                shown = text.replace("\n", " / ")
                problems.append(
                    RowProblem(
                        2,
                        f"cell {ref}: {shown!r} is not a slot: write its start and end, "
                        "e.g. '8:15' and '9:15' on two lines",
                    )
                )
                continue
            start, end = times
            if end <= start:
                problems.append(
                    RowProblem(
                        2, f"cell {ref}: the slot ends ({_hm(end)}) before it starts ({_hm(start)})"
                    )
                )
                continue
            clash = next(
                (s for s in slots if s.weekday == day and start < s.end and s.start < end), None
            )
            if clash is not None:
                problems.append(
                    RowProblem(
                        2,
                        f"cell {ref}: {weekday_name(day)} {_hm(start)}-{_hm(end)} overlaps "
                        f"{column_letter(clash.column)}2 ({_hm(clash.start)}-{_hm(clash.end)})",
                    )
                )
                continue
            slots.append(Slot(day, start, end, c))
    return slots


def parse_grid(rows: Sequence[Sequence[str]]) -> tuple[Grid, list[RowProblem]]:
    """The sheet's slots and people, and every problem found (line = sheet row)."""
    problems: list[RowProblem] = []
    if not looks_like_grid(rows):
        raise InvalidInputError("not a timetable grid: no weekday names in the first row")
    slots = _header(rows, problems)
    by_column = {s.column: s for s in slots}
    people: list[GridPerson] = []
    first_line: dict[str, int] = {}
    taught: set[int] = set()
    for r in range(2, len(rows)):
        line = r + 1
        cells = rows[r]
        name = display_name(cells[0]) if cells else ""
        filled = {c: text for c, text in enumerate(cells) if c > 0 and text}
        if not name:
            if filled:
                problems.append(RowProblem(line, "entries but no name in column A"))
            continue
        if len(name) > MAX_NAME:
            problems.append(RowProblem(line, f"name longer than {MAX_NAME} characters"))
            continue
        if name in first_line:
            again = f"{name!r} again (already on line {first_line[name]})"
            problems.append(RowProblem(line, again))
            continue
        first_line[name] = line
        rooms: dict[int, str] = {}
        for c, text in filled.items():
            if c in by_column:
                rooms[c] = " - ".join(part for part in text.splitlines() if part.strip())
                taught.add(c)
            # Cells under a bad or missing header were reported with that header.
        people.append(GridPerson(line, name, rooms))
    used = [s for s in slots if s.column in taught]
    used.sort(key=lambda s: (s.weekday, s.start))
    if not people and not problems:
        problems.append(RowProblem(3, "no people: names go in column A from row 3 on"))
    return Grid(used, people, len(slots) - len(used)), problems
