"""`timetable import`: a long file (uid, weekday, start, end, room) or the original
system's grid sheet, detected from the file itself.

Everything is checked before anything is written, and every problem is listed with
its line; with any problem (or --dry-run) nothing is written. A grid names people,
not uids: names are resolved as uids.PeopleMatcher says, and with create_people the
unknown ones are created in the same transaction as their timetable.
"""

from __future__ import annotations

import asyncio
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


def _read(path: Path) -> tuple[str, list[tuple[int, list[str]]]]:
    if is_spreadsheet(path):
        sheet = read_sheet(path)
        if looks_like_grid(sheet):
            return "grid", list(enumerate(sheet, start=1))
        return "rows", [
            (n, [" - ".join(c.splitlines()) for c in cells])
            for n, cells in enumerate(sheet, start=1)
            if cells
        ]
    return "rows", list(read_rows(path))


async def import_timetable(
    stores: Stores, path: Path, *, dry_run: bool = False, create_people: bool = False
) -> ImportOutcome:
    # Reading a spreadsheet can take a while: off the event loop.
    layout, rows = await asyncio.to_thread(_read, path)
    if layout == "grid":
        return await _import_grid(
            stores, path, [cells for _, cells in rows], dry_run, create_people
        )
    if create_people:
        raise InvalidInputError(
            f"{path}: --create-people needs the grid layout (names); this file has uids"
        )
    snapshot = await stores.imports.snapshot()
    entries, problems = parse_rows(rows, snapshot.people)
    uids = sorted({e.person_uid for e in entries})
    if not entries and not problems:
        raise InvalidInputError(f"{path}: no timetable rows")
    return await _write(stores, path, "rows", entries, uids, problems, [], dry_run)


async def _import_grid(
    stores: Stores, path: Path, sheet: list[list[str]], dry_run: bool, create_people: bool
) -> ImportOutcome:
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
    outcome = await _write(
        stores, path, "grid", grid.entries(uids), sorted(uids.values()), problems, created, dry_run
    )
    return replace(outcome, slots=len(grid.slots), skipped_slots=grid.skipped_slots)


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
