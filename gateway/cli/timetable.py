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
from gateway.reports import render
from gateway.reports.service import ImportOutcome, import_timetable
from gateway.reports.timeparse import parse_weekday
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("timetable", help="import or list the timetable")
    sub = parser.add_subparsers(dest="timetable_command", metavar="ACTION", required=True)

    imp = sub.add_parser(
        "import",
        help="replace the timetable of the people in a CSV or .xlsx file",
        description=(
            "Columns: uid, weekday (1-7, Mon..Sun or lun..dom), start, end (HH:MM; end "
            "before start crosses midnight), room. An optional header row starts with "
            "'uid'. Every row is checked first; with any bad row nothing is written. "
            "Otherwise the rows of every person named in the file are replaced in one "
            "transaction; other people's rows are kept."
        ),
    )
    add_config_option(imp)
    imp.add_argument("file", metavar="FILE", help=".csv (comma or semicolon) or .xlsx")
    imp.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
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
    outcome = asyncio.run(_do_import(config, path, args.dry_run))
    if outcome.problems:
        for problem in outcome.problems:
            print(f"{path}:{problem.line}: {problem.message}", file=sys.stderr)
        raise InvalidInputError(f"{path}: {len(outcome.problems)} bad row(s); nothing was imported")
    verb = "would replace" if args.dry_run else "replaced"
    print(
        f"{path}: {outcome.rows} row(s) for {len(outcome.uids)} person(s); {verb} their timetable"
    )
    return 0


async def _do_import(config: Config, path: Path, dry_run: bool) -> ImportOutcome:
    stores = await Stores.open_checked(config.database.url)
    try:
        return await import_timetable(stores, path, dry_run=dry_run)
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
    stores = await Stores.open_checked(config.database.url)
    try:
        names = {p.uid: p.name for p in await stores.people.people()}
        return await stores.timetable.timetable(uid=uid, weekday=weekday), names
    finally:
        await stores.close()
