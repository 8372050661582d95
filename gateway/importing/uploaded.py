"""Files uploaded from the web: a people file or a timetable, read and checked whole
against what is stored, planned, and applied later in one transaction.

The checks are the command line's own (`users import`: people_csv and
PeopleStore.check_import; `timetable import`: timetable.plan_timetable), so a file
the CLI refuses is refused here for the same reasons. A plan is kept by the web
between the preview and the confirm; `apply_*` checks that what is stored still
gives the same plan (someone may have assigned a card meanwhile) and refuses
otherwise, so what is written is exactly what the preview showed.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.csvin import CsvRow
from gateway.errors import ConflictError, InvalidInputError
from gateway.importing.people_csv import parse_people_csv, parse_people_rows
from gateway.importing.spreadsheet import is_spreadsheet, read_sheet
from gateway.importing.timetable import TimetablePlan, plan_timetable
from gateway.store.audit import Actor
from gateway.store.imports import Applied, AuditNote
from gateway.store.models import ImportResult, PersonImport, TimetableEntry
from gateway.store.stores import Stores

SUFFIXES = (".csv", ".xlsx", ".xls")
CHANGED = "what is stored changed since the preview: upload the file again"


@dataclass(frozen=True)
class Problem:
    """One problem of a file: its row (None: the whole file), where in the row when
    the message says (a column or a cell), and the message."""

    line: int | None
    where: str
    message: str


_LINE = re.compile(r"^line (\d+): ")
_CELL = re.compile(r"\b(?:cell|column) ([A-Z]{1,3}\d*)\b")
# The column a people problem is about, from its wording (first match wins).
_PEOPLE_COLUMNS = (
    (re.compile(r"inactive|\bcard\b|card key"), "card_key"),
    (re.compile(r"\buid\b"), "uid"),
    (re.compile(r"\bname\b"), "name"),
)
_TIMETABLE_COLUMNS = (
    (re.compile(r"\buid\b"), "uid"),
    (re.compile(r"weekday"), "weekday"),
    (re.compile(r"\bstart:"), "start"),
    (re.compile(r"\bend:"), "end"),
)


def _where(message: str, columns: Sequence[tuple[re.Pattern[str], str]]) -> str:
    """The cell or column a message names, else the first column it is about ('' for
    a problem of the whole row, such as its number of columns)."""
    if found := _CELL.search(message):
        return found.group(1)
    if message.startswith(("expected ", "more than ", "overlaps ")):
        return ""
    return next((name for pattern, name in columns if pattern.search(message)), "")


def people_problem(text: str) -> Problem:
    """A `users import` problem ('line 4: name must not be empty') as a Problem."""
    found = _LINE.match(text)
    line = int(found.group(1)) if found else None
    message = text[found.end() :] if found else text
    return Problem(line, _where(message, _PEOPLE_COLUMNS), message)


def whole_file(message: str) -> Problem:
    return Problem(None, "", message)


def check_suffix(filename: str) -> str:
    """The file's suffix in lower case, or InvalidInputError naming the ones taken."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(
            f"{filename}: not a .csv, .xlsx or .xls file (save it from the spreadsheet as one)"
        )
    return suffix


# -- people ---------------------------------------------------------------------
@dataclass(frozen=True)
class PeoplePlan:
    rows: list[PersonImport]
    results: list[ImportResult]
    problems: list[Problem]

    def added(self) -> list[PersonImport]:
        return [r for r, x in zip(self.rows, self.results, strict=True) if x.person == "added"]

    def cards(self) -> list[PersonImport]:
        return [r for r, x in zip(self.rows, self.results, strict=True) if x.card == "assigned"]

    def counts(self) -> dict[str, int]:
        return {
            "rows": len(self.rows),
            "people_added": sum(x.person == "added" for x in self.results),
            "people_unchanged": sum(x.person == "unchanged" for x in self.results),
            "cards_assigned": sum(x.card == "assigned" for x in self.results),
            "cards_unchanged": sum(x.card == "unchanged" for x in self.results),
        }


def _read_people(path: Path, max_rows: int) -> tuple[list[PersonImport], list[str]]:
    if is_spreadsheet(path):
        sheet = read_sheet(path, max_rows=max_rows + 1)  # a header row, then the rows
        numbered = (
            CsvRow(n, [" ".join(c.split()) for c in cells])
            for n, cells in enumerate(sheet, start=1)
            if any(cells)
        )
        return parse_people_rows(numbered, max_rows=max_rows)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInputError("not UTF-8 text (save the CSV as UTF-8)") from None
    return parse_people_csv(text, max_rows=max_rows)


async def plan_people(stores: Stores, path: Path, *, max_rows: int) -> PeoplePlan:
    """Every problem of the file and of its conflicts with what is stored, listed
    together in line order (as `users import` lists them), and what it would write."""
    rows, problems = await asyncio.to_thread(_read_people, path, max_rows)
    if not rows and not problems:
        raise InvalidInputError("no rows to import")
    results, conflicts = await stores.people.check_import(rows)
    every = sorted((people_problem(p) for p in [*problems, *conflicts]), key=_order)
    return PeoplePlan(rows, results, every)


def _order(problem: Problem) -> int:
    return problem.line or 0


async def apply_people(stores: Stores, plan: PeoplePlan, note: AuditNote) -> Applied:
    """Write the plan in one transaction with its audit row, if what is stored still
    gives this plan; else ConflictError, and nothing is written."""
    if plan.problems:
        raise InvalidInputError("a file with problems is not imported")
    results, conflicts = await stores.people.check_import(plan.rows)
    if conflicts or results != plan.results:
        raise ConflictError(CHANGED)
    return await stores.imports.apply(
        add_people=[(r.uid, r.name) for r in plan.added()],
        add_cards=[(r.card_key, r.uid) for r in plan.cards() if r.card_key],
        audit=note,
    )


# -- timetable ------------------------------------------------------------------
@dataclass(frozen=True)
class TimetableChanges:
    """The rows the file adds and removes, person by person, against what is stored."""

    added: list[TimetableEntry] = field(default_factory=list)
    removed: list[TimetableEntry] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # whose timetable changes


@dataclass(frozen=True)
class TimetableUpload:
    plan: TimetablePlan
    changes: TimetableChanges
    problems: list[Problem]

    def counts(self) -> dict[str, int]:
        return {
            "rows": len(self.plan.entries),
            "people_in_file": len(self.plan.uids),
            "people_added": len(self.plan.created),
            "people_changed": len(self.changes.people),
            "rows_added": len(self.changes.added),
            "rows_removed": len(self.changes.removed),
        }


def timetable_problem(line: int, message: str) -> Problem:
    return Problem(line, _where(message, _TIMETABLE_COLUMNS), message)


async def _changes(stores: Stores, plan: TimetablePlan) -> TimetableChanges:
    wanted: dict[str, Counter[TimetableEntry]] = {u: Counter() for u in plan.uids}
    for entry in plan.entries:
        wanted.setdefault(entry.person_uid, Counter())[entry] += 1
    current = await stores.imports.timetable_of(wanted)
    added: list[TimetableEntry] = []
    removed: list[TimetableEntry] = []
    people: list[str] = []
    for uid in sorted(wanted):
        now = current.get(uid, Counter())
        more, fewer = wanted[uid] - now, now - wanted[uid]
        if more or fewer:
            people.append(uid)
        added.extend(sorted(more.elements(), key=_entry_order))
        removed.extend(sorted(fewer.elements(), key=_entry_order))
    return TimetableChanges(added, removed, people)


def _entry_order(entry: TimetableEntry) -> tuple[int, Any, Any, str]:
    return entry.weekday, entry.start, entry.end, entry.room


async def plan_timetable_upload(
    stores: Stores, path: Path, *, create_people: bool, max_rows: int
) -> TimetableUpload:
    plan = await plan_timetable(stores, path, create_people=create_people, max_rows=max_rows)
    problems = [timetable_problem(p.line, p.message) for p in plan.problems]
    changes = TimetableChanges() if problems else await _changes(stores, plan)
    return TimetableUpload(plan, changes, problems)


async def apply_timetable(stores: Stores, upload: TimetableUpload, note: AuditNote) -> Applied:
    """As apply_people: refused when what is stored no longer gives the same changes
    (or a person to be created exists meanwhile)."""
    if upload.problems:
        raise InvalidInputError("a file with problems is not imported")
    snapshot = await stores.imports.snapshot()
    if any(uid in snapshot.people for uid, _ in upload.plan.created):
        raise ConflictError(CHANGED)
    if await _changes(stores, upload.plan) != upload.changes:
        raise ConflictError(CHANGED)
    return await stores.imports.apply(
        add_people=upload.plan.created,
        entries=upload.plan.entries,
        scope=upload.plan.uids,
        audit=note,
    )


def audit_note(actor: Actor, action: str, details: Mapping[str, Any]) -> AuditNote:
    return AuditNote(actor, action, None, dict(details))
