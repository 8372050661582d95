"""Reading a long timetable file (CSV, or .xlsx/.xls with the optional readers) into rows.

Columns: uid, weekday, start, end, room (room may be empty). A first row whose first
cell is 'uid' is a header. Every row is checked and every problem reported with its
line number; the caller writes nothing unless the whole file is clean.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path

from gateway.csvin import csv_rows
from gateway.errors import GatewayError, InvalidInputError, NotFoundError
from gateway.importing.spreadsheet import is_spreadsheet, read_sheet
from gateway.reports.timeparse import parse_clock_time, parse_weekday, weekday_name
from gateway.store.models import TimetableEntry

COLUMNS = ("uid", "weekday", "start", "end", "room")


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class TimetableFileError(InvalidInputError):
    """A file with bad rows: the message names the first few; `problems` has them all."""

    def __init__(self, path: str, problems: Sequence[RowProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing imported: {shown}{more}")
        self.problems = list(problems)


def read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells as text) for each non-empty row of a .csv, .xlsx or .xls file."""
    if is_spreadsheet(path):
        for number, cells in enumerate(read_sheet(path), start=1):
            if cells:
                yield number, [" - ".join(c.splitlines()) for c in cells]
        return
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{path}: file not found") from None
    except OSError as exc:
        raise GatewayError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # spreadsheets often save a BOM
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    for row in csv_rows(text, delimiter=delimiter, multiline=True):
        if row.problem:
            raise InvalidInputError(f"{path}:{row.line}: {row.problem}")
        yield row.line, row.cells


def parse_rows(
    rows: Iterator[tuple[int, list[str]]] | Sequence[tuple[int, list[str]]],
    known_uids: Collection[str],
) -> tuple[list[TimetableEntry], list[RowProblem]]:
    """Validate every row; return the entries and every problem found."""
    entries: list[TimetableEntry] = []
    weeks: dict[str, _Week] = {}
    problems: list[RowProblem] = []
    for index, (line, cells) in enumerate(rows):
        if index == 0 and cells and cells[0].strip().lower() == "uid":
            continue
        if len(cells) < 4 or len(cells) > 5:
            problems.append(
                RowProblem(
                    line,
                    f"expected {len(COLUMNS)} columns ({', '.join(COLUMNS)}), got {len(cells)}",
                )
            )
            continue
        uid, weekday_text, start_text, end_text = cells[:4]
        room = cells[4] if len(cells) == 5 else ""
        errors: list[str] = []
        if not uid:
            errors.append("empty uid")
        elif uid not in known_uids:
            errors.append(f"unknown uid {uid!r}")
        weekday = start = end = None
        try:
            weekday = parse_weekday(weekday_text)
        except InvalidInputError as exc:
            errors.append(exc.message)
        try:
            start = parse_clock_time(start_text)
        except InvalidInputError as exc:
            errors.append(f"start: {exc.message}")
        try:
            end = parse_clock_time(end_text)
        except InvalidInputError as exc:
            errors.append(f"end: {exc.message}")
        if start is not None and start == end:
            errors.append("start and end are equal (an empty shift)")
        if errors or weekday is None or start is None or end is None:
            problems.append(RowProblem(line, "; ".join(errors)))
            continue
        entry = TimetableEntry(person_uid=uid, weekday=weekday, start=start, end=end, room=room)
        clash = weeks.setdefault(uid, _Week()).add(entry, line)
        if clash is not None:
            other, other_line = clash
            problems.append(
                RowProblem(
                    line,
                    f"overlaps line {other_line} ({uid}, {weekday_name(other.weekday)} "
                    f"{_hm(other.start)}-{_hm(other.end)})",
                )
            )
        else:
            entries.append(entry)
    return entries, problems


_WEEK = 7 * 1440


class _Week:
    """One person's accepted rows as disjoint, sorted pieces of the weekly cycle.

    A new row is checked against its neighbours only (O(log n) per row; comparing it
    with every earlier row made 20,000 rows take 46 s). A row running past Sunday
    midnight is two pieces: up to the week's end, and from Monday 00:00.
    """

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.pieces: list[tuple[int, int, TimetableEntry, int]] = []

    def add(self, entry: TimetableEntry, line: int) -> tuple[TimetableEntry, int] | None:
        """Insert the row; or return the (entry, line) it overlaps, inserting nothing."""
        start, end = _minutes(entry)
        parts = [(start, min(end, _WEEK))]
        if end > _WEEK:
            parts.append((0, end - _WEEK))
        for lo, hi in parts:
            if clash := self._clash(lo, hi):
                return clash
        for lo, hi in parts:
            at = bisect.bisect_left(self.starts, lo)
            self.starts.insert(at, lo)
            self.pieces.insert(at, (lo, hi, entry, line))
        return None

    def _clash(self, lo: int, hi: int) -> tuple[TimetableEntry, int] | None:
        at = bisect.bisect_left(self.starts, lo)
        # Pieces are disjoint: only the one before and the one at or after can overlap.
        for index in (at - 1, at):
            if 0 <= index < len(self.pieces):
                p_lo, p_hi, entry, line = self.pieces[index]
                if p_lo < hi and lo < p_hi:  # strict: touching rows are fine
                    return entry, line
        return None


def _hm(value: time) -> str:
    return value.strftime("%H:%M")


def _minutes(entry: TimetableEntry) -> tuple[int, int]:
    """The row as minutes since Monday 00:00 (end may pass Sunday midnight)."""
    base = (entry.weekday - 1) * 1440
    start = base + entry.start.hour * 60 + entry.start.minute
    end = base + entry.end.hour * 60 + entry.end.minute
    if entry.end < entry.start:
        end += 1440
    return start, end
