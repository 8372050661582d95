"""`clock-gateway import-original --from URL`: bring the original system's data over."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.config import Config
from gateway.errors import InvalidInputError
from gateway.importing.original import BATCH, OriginalImport, import_original
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import-original",
        help="import people, cards, timetable and taps from the original system's database",
        description=(
            "Reads the original NestJS system's PostgreSQL database (read-only) and "
            "imports its people (uid, name), cards (user.key, normalised; a malformed "
            "key or one held by two people is reported, never guessed), timetable "
            "(user_schedule day/hour through the slot table, [original] slots in the "
            "configuration) and taps (auth_entity: input -> in, output -> out, marked "
            "as imported). Problems are listed one per line on stderr and their rows "
            "skipped. People, cards and timetable go in one transaction, taps in "
            "batches; an interrupted run resumes when run again, and a second run "
            "changes nothing. See docs/MIGRATING.md."
        ),
    )
    add_config_option(parser)
    add_json_option(parser)
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="the original's database, postgresql://USER[:PASSWORD]@HOST[:PORT]/DB",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check and count everything, write nothing"
    )
    parser.add_argument(
        "--batch", type=int, default=BATCH, metavar="N", help=f"taps per transaction ({BATCH})"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.batch < 1:
        raise InvalidInputError("--batch must be 1 or more")
    result = asyncio.run(_import(config, args.source, args.dry_run, args.batch))
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if args.json:
        print_json(result.as_dict())
        return 0
    _print(result)
    return 0


async def _import(config: Config, source: str, dry_run: bool, batch: int) -> OriginalImport:
    stores = await Stores.open_checked(config.database)
    try:
        return await import_original(
            stores,
            source,
            slots=config.original.slots,
            duplicate_window_s=config.duplicate_window_s,
            dry_run=dry_run,
            batch=batch,
        )
    finally:
        await stores.close()


def _print(r: OriginalImport) -> None:
    verb = "would import" if r.dry_run else "imported"
    print(f"{verb} from {r.source} in {r.seconds:.1f} s")
    print(f"{'TABLE':<14}{'READ':>10}{'NEW':>10}{'UNCHANGED':>11}{'SKIPPED':>9}")
    for label, c in (
        ("people", r.people),
        ("cards", r.cards),
        ("timetable", r.timetable),
        ("events", r.events),
    ):
        print(f"{label:<14}{c.read:>10}{c.new:>10}{c.unchanged:>11}{c.skipped:>9}")
    print(
        f"timetable: {'would rewrite' if r.dry_run else 'rewrote'} the rows of "
        f"{r.timetable_people_changed} person(s)"
    )
    print(f"events: {r.duplicates} kept as duplicates (a repeated tap within the window)")
    if r.problems:
        print(f"{len(r.problems)} problem(s), listed above; their rows were skipped")
