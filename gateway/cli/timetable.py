"""`clock-gateway timetable import|list`: who is expected when and where."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import (
    add_config_option,
    add_json_option,
    config_from_args,
    print_json,
    print_table,
)
from gateway.config import Config
from gateway.errors import InvalidInputError
from gateway.importing.timetable import ImportOutcome, import_timetable
from gateway.reports import render
from gateway.reports.timeparse import parse_weekday
from gateway.store.audit import Actor
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("timetable", help="import or list the timetable")
    sub = parser.add_subparsers(dest="timetable_command", metavar="ACTION", required=True)

    imp = sub.add_parser(
        "import",
        help="replace the timetable of the people in a CSV, .xlsx or .xls file",
        description=(
            "Two layouts, detected from the file. Rows: uid, weekday (1-7, Mon..Sun or "
            "lun..dom), start, end (HH:MM; end before start crosses midnight), room; an "
            "optional header row starts with 'uid'. Grid (the original system's sheet, "
            ".xlsx or .xls): weekday names in row 1 over blocks of slot columns, each "
            "slot's start and end in row 2, one person per row from row 3 (name in column "
            "A), one cell per slot (its lines joined with ' - ' are the room). Every row "
            "is checked first; with any problem nothing is written. Otherwise the rows of "
            "every person in the file are replaced in one transaction; other people's "
            "rows are kept."
        ),
    )
    add_config_option(imp)
    add_json_option(imp)
    imp.add_argument("file", metavar="FILE", help=".csv (comma or semicolon), .xlsx or .xls")
    imp.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    imp.add_argument(
        "--create-people",
        action="store_true",
        help="grid: create the people it names who do not exist yet (uid derived from the name)",
    )
    imp.set_defaults(func=_import)

    lst = sub.add_parser("list", help="list timetable rows")
    add_config_option(lst)
    add_json_option(lst)
    lst.add_argument("--user", metavar="UID", help="only this person")
    lst.add_argument("--weekday", metavar="DAY", help="only this weekday (1-7, Mon..Sun)")
    lst.set_defaults(func=_list)


def _import(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    path = Path(args.file)
    outcome = asyncio.run(_do_import(config, path, args.dry_run, args.create_people))
    if args.json:
        print_json(_summary(path, outcome, args.dry_run))
    if outcome.problems:
        for problem in outcome.problems:
            print(f"{path}:{problem.line}: {problem.message}", file=sys.stderr)
        raise InvalidInputError(f"{path}: {len(outcome.problems)} bad row(s); nothing was imported")
    if args.json:
        return 0
    would = args.dry_run
    if outcome.layout == "grid":
        print(
            f"{path}: timetable grid, {outcome.slots} slot(s) taught"
            f" ({outcome.skipped_slots} empty slot(s) skipped)"
        )
    if outcome.created:
        print(f"{'would create' if would else 'created'} {len(outcome.created)} person(s):")
        for uid, name in outcome.created:
            print(f"  {uid}  {name}")
    print(
        f"{path}: {outcome.rows} row(s) for {len(outcome.uids)} person(s); "
        f"{'would change' if would else 'changed'} the timetable of {outcome.changed}"
    )
    return 0


def _summary(path: Path, outcome: ImportOutcome, dry_run: bool) -> dict[str, Any]:
    return {
        "file": str(path),
        "layout": outcome.layout,
        "dry_run": dry_run,
        "ok": not outcome.problems,
        "rows": outcome.rows,
        "people": len(outcome.uids),
        "changed": outcome.changed,
        "created": [{"uid": uid, "name": name} for uid, name in outcome.created],
        "slots": outcome.slots,
        "skipped_slots": outcome.skipped_slots,
        "problems": [{"line": p.line, "message": p.message} for p in outcome.problems],
    }


async def _do_import(
    config: Config, path: Path, dry_run: bool, create_people: bool
) -> ImportOutcome:
    stores = await Stores.open_checked(config.database)
    try:
        outcome = await import_timetable(stores, path, dry_run=dry_run, create_people=create_people)
        if not dry_run and not outcome.problems:
            await stores.audit.record(
                Actor.cli(), "timetable.import", None, {"file": path.name, "rows": outcome.rows}
            )
        return outcome
    finally:
        await stores.close()


def _list(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    weekday = parse_weekday(args.weekday) if args.weekday else None
    entries, names = asyncio.run(_fetch(config, args.user, weekday))
    rows = [render.timetable_row(e, names) for e in entries]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("No timetable rows.")
        return 0
    print_table(
        ["DAY", "START", "END", "UID", "NAME", "ROOM"],
        [
            [
                r["weekday_name"],
                r["start"],
                r["end"] + (" (+1)" if r["crosses_midnight"] else ""),
                r["uid"],
                r["name"],
                r["room"],
            ]
            for r in rows
        ],
    )
    return 0


async def _fetch(
    config: Config, uid: str | None, weekday: int | None
) -> tuple[list[TimetableEntry], dict[str, str]]:
    stores = await Stores.open_checked(config.database)
    try:
        names = {p.uid: p.name for p in await stores.people.people()}
        return await stores.timetable.timetable(uid=uid, weekday=weekday), names
    finally:
        await stores.close()
