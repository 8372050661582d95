"""`timetable import`: a long file (uid, weekday, start, end, room) or the original
system's grid sheet, detected from the file itself.

Everything is checked before anything is written, and every problem is listed with
its line; with any problem (or --dry-run) nothing is written. A grid names people,
not uids: names are resolved as uids.PeopleMatcher says, and with create_people the
unknown ones are created in the same transaction as their timetable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from gateway.errors import InvalidInputError
from gateway.importing.spreadsheet import is_spreadsheet, read_sheet
from gateway.importing.timetable_file import RowProblem, parse_rows, read_rows
from gateway.importing.timetable_grid import looks_like_grid, parse_grid
from gateway.importing.uids import PeopleMatcher
from gateway.logs import get_logger
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores

log = get_logger("import")


@dataclass(frozen=True)
class ImportOutcome:
    rows: int
    uids: list[str]
    problems: list[RowProblem]
    layout: str = "rows"  # "rows" (uid per row) or "grid" (the original's sheet)
    created: list[tuple[str, str]] = field(default_factory=list)  # (uid, name)
    changed: int = 0  # people whose timetable was (or would be) rewritten
    slots: int = 0  # grid: slots somebody teaches
    skipped_slots: int = 0  # grid: slots with a header and nobody in them


@dataclass(frozen=True)
class TimetablePlan:
    """What a timetable file says, resolved against the people stored; nothing written."""

    layout: str  # "rows" or "grid"
    entries: list[TimetableEntry]
    uids: list[str]  # the people whose timetable the file gives (its scope)
    problems: list[RowProblem]
    created: list[tuple[str, str]] = field(default_factory=list)  # (uid, name) to add
    slots: int = 0
    skipped_slots: int = 0


def read_timetable_file(
    path: Path, max_rows: int | None = None
) -> tuple[str, list[tuple[int, list[str]]], list[RowProblem]]:
    """(layout, numbered rows, problems): with `max_rows`, reading stops at the first
    row past that many (a grid's two header rows not counted), which is one problem."""
    if is_spreadsheet(path):
        sheet = read_sheet(path) if max_rows is None else read_sheet(path, max_rows=max_rows + 2)
        if looks_like_grid(sheet):
            rows = list(enumerate(sheet, start=1))
            if max_rows is not None and len(rows) > max_rows + 2:
                return "grid", rows[: max_rows + 2], [_too_many(max_rows + 3, max_rows)]
            return "grid", rows, []
        numbered = (
            (n, [" - ".join(c.splitlines()) for c in cells])
            for n, cells in enumerate(sheet, start=1)
            if cells
        )
        return ("rows", *_bounded(numbered, max_rows))
    return ("rows", *_bounded(read_rows(path), max_rows))


def _too_many(line: int, max_rows: int) -> RowProblem:
    return RowProblem(
        line, f"more than {max_rows} rows; at most {max_rows} are read (split the file)"
    )


def _bounded(
    rows: Iterator[tuple[int, list[str]]], max_rows: int | None
) -> tuple[list[tuple[int, list[str]]], list[RowProblem]]:
    out: list[tuple[int, list[str]]] = []
    counted = 0
    for line, cells in rows:
        header = not out and bool(cells) and cells[0].strip().lower() == "uid"
        counted += not header
        if max_rows is not None and counted > max_rows:
            return out, [_too_many(line, max_rows)]
        out.append((line, cells))
    return out, []


async def plan_timetable(
    stores: Stores, path: Path, *, create_people: bool = False, max_rows: int | None = None
) -> TimetablePlan:
    """Read and check the whole file against the people stored: every problem, and
    what importing it would write (created people only for a grid with create_people)."""
    # Reading a spreadsheet can take a while: off the event loop.
    layout, rows, read_problems = await asyncio.to_thread(read_timetable_file, path, max_rows)
    if layout == "grid":
        grid_plan = await _plan_grid(stores, [cells for _, cells in rows], create_people)
        problems = sorted([*grid_plan.problems, *read_problems], key=lambda p: p.line)
        return replace(grid_plan, problems=problems)
    snapshot = await stores.imports.snapshot()
    entries, problems = parse_rows(rows, snapshot.people)
    uids = sorted({e.person_uid for e in entries})
    if not entries and not problems and not read_problems:
        raise InvalidInputError(f"{path}: no timetable rows")
    return TimetablePlan("rows", entries, uids, [*problems, *read_problems])


async def import_timetable(
    stores: Stores, path: Path, *, dry_run: bool = False, create_people: bool = False
) -> ImportOutcome:
    if create_people and not is_spreadsheet(path):
        raise InvalidInputError(
            f"{path}: --create-people needs the grid layout (names); this file has uids"
        )
    plan = await plan_timetable(stores, path, create_people=create_people)
    if create_people and plan.layout != "grid":
        raise InvalidInputError(
            f"{path}: --create-people needs the grid layout (names); this file has uids"
        )
    outcome = await _write(
        stores, path, plan.layout, plan.entries, plan.uids, plan.problems, plan.created, dry_run
    )
    if plan.layout == "grid":
        return replace(outcome, slots=plan.slots, skipped_slots=plan.skipped_slots)
    return outcome


async def _plan_grid(stores: Stores, sheet: list[list[str]], create_people: bool) -> TimetablePlan:
    grid, problems = parse_grid(sheet)
    snapshot = await stores.imports.snapshot()
    matcher = PeopleMatcher(snapshot.people.items(), create=create_people)
    uids: dict[str, str] = {}
    created: list[tuple[str, str]] = []
    for person in grid.people:
        found = matcher.resolve(person.name)
        if found.uid is None:
            problems.append(RowProblem(person.line, found.problem or "unresolved name"))
            continue
        uids[person.name] = found.uid
        if found.created:
            created.append((found.uid, person.name))
    problems.sort(key=lambda p: p.line)
    return TimetablePlan(
        "grid",
        grid.entries(uids),
        sorted(uids.values()),
        problems,
        created,
        len(grid.slots),
        grid.skipped_slots,
    )


async def _write(
    stores: Stores,
    path: Path,
    layout: str,
    entries: list[TimetableEntry],
    uids: list[str],
    problems: list[RowProblem],
    created: list[tuple[str, str]],
    dry_run: bool,
) -> ImportOutcome:
    if problems:
        return ImportOutcome(len(entries), uids, problems, layout, created)
    if dry_run:
        changed = await stores.imports.changed(entries, uids)
        return ImportOutcome(len(entries), uids, [], layout, created, len(changed))
    applied = await stores.imports.apply(add_people=created, entries=entries, scope=uids)
    log.info(
        "timetable_imported",
        path=str(path),
        layout=layout,
        rows=applied.timetable_rows,
        people=len(uids),
        created=len(created),
        changed=applied.timetable_changed,
    )
    return ImportOutcome(
        applied.timetable_rows, uids, [], layout, created, applied.timetable_changed
    )
