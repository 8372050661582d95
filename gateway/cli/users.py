"""`clock-gateway users add|list|import`: the people who may clock in."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli.common import (
    add_config_option,
    add_json_option,
    config_from_args,
    print_json,
    print_table,
)
from gateway.cli.oneshot import with_stores
from gateway.cli.person_actions import add_person_actions
from gateway.domain import Person
from gateway.errors import (
    ConflictError,
    DatabaseUnavailableError,
    InvalidInputError,
    NotFoundError,
)
from gateway.importing.people_csv import parse_people_file
from gateway.store.audit import Actor
from gateway.store.models import ImportResult, PersonRow
from gateway.store.people import ImportConflicts

if TYPE_CHECKING:
    from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "users",
        help="add, list and import people",
        description="The people who may clock in, and the cards they hold.",
    )
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = sub.add_parser(
        "add",
        help="add a person",
        description="Add a person. Give them a card afterwards with 'clock-gateway cards "
        "assign KEY UID' (see 'clock-gateway cards unknown' to find the key by tapping).",
    )
    add.add_argument(
        "uid", metavar="UID", help="a stable identifier without spaces, e.g. ana.garcia"
    )
    add.add_argument("name", metavar="NAME", help="the name the reader's display shows")
    add_config_option(add)
    add_json_option(add)
    add.set_defaults(func=_add)

    listing = sub.add_parser(
        "list", help="list people and their cards", description="List people and their cards."
    )
    listing.add_argument("--without-card", action="store_true", help="only people who hold no card")
    add_config_option(listing)
    add_json_option(listing)
    listing.set_defaults(func=_list)

    imp = sub.add_parser(
        "import",
        help="add people (and cards) from a CSV file",
        description="Add people from a CSV file with the columns uid,name[,card_key]; a "
        "header row is optional. With a header, a row may also set the person's working "
        "regime: regime, part_time_percent, weekly_hours, place, regime_from, overtime. "
        "Every row is checked first: if any row is bad, nothing "
        "is written. People already present with the same name are left as they are.",
    )
    imp.add_argument("file", metavar="FILE.csv", help="the CSV file (',' or ';' separated)")
    imp.add_argument(
        "--dry-run", action="store_true", help="check everything and report, but write nothing"
    )
    add_config_option(imp)
    add_json_option(imp)
    imp.set_defaults(func=_import)

    add_person_actions(sub)  # rename, deactivate, reactivate, erase


def _add(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> Person:
        return await stores.lifecycle.add_person(args.uid, args.name, Actor.cli())

    person = with_stores(config, work)
    if args.json:
        print_json(asdict(person))
    else:
        print(f"added {person.uid} ({person.name})")
    return 0


def _list(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> list[PersonRow]:
        return await stores.people.people(without_card=args.without_card)

    rows = with_stores(config, work)
    if args.json:
        print_json([asdict(r) for r in rows])
        return 0
    if not rows:
        print("Nobody without a card." if args.without_card else "No people yet.")
        return 0
    print_table(
        ("UID", "NAME", "ACTIVE", "CARDS"),
        ((r.uid, r.name, "yes" if r.active else "no", " ".join(r.cards)) for r in rows),
    )
    return 0


def _describe(result: ImportResult) -> str:
    text = f"line {result.line}: {result.uid}: {result.person}"
    if result.card is not None:
        text += f", card {result.card}"
    return text


def _line_number(problem: str) -> int:
    """The line a problem names ('line 12: ...'), for listing them in file order."""
    head = problem.split(":", 1)[0].removeprefix("line ")
    return int(head) if head.isascii() and head.isdigit() else 0


def _import(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    path = Path(args.file)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read: {exc.strerror}") from None
    parsed = parse_people_file(
        content, full_week_minutes=config.register.worktime.full_week_minutes
    )
    rows, problems = parsed.rows, parsed.problems
    if not rows and not problems:
        raise InvalidInputError(f"{path}: no rows to import")

    async def work(stores: Stores) -> tuple[list[ImportResult], int]:
        # The file's own mistakes and its conflicts with what is stored, listed
        # together: one run shows everything to fix.
        _results, conflicts = await stores.people.check_import(rows)
        if problems or conflicts:
            raise ImportConflicts(conflicts)
        results = await stores.people.import_people(rows, dry_run=args.dry_run)
        if args.dry_run:
            return results, len(parsed.regimes)
        # The file's regimes (checked with the rest above), in one transaction.
        added = await stores.regimes.add_many(
            [(r.uid, r.valid_from, r.terms) for r in parsed.regimes], Actor.cli()
        )
        regimes_set = sum(1 for a in added if a is not None)
        await stores.audit.record(
            Actor.cli(),
            "people.import",
            None,
            {"file": path.name, "rows": len(results), "regimes": regimes_set},
        )
        return results, regimes_set

    try:
        results, regimes_set = with_stores(config, work)
    except ImportConflicts as exc:
        every = sorted([*problems, *exc.problems], key=_line_number)
        for problem in every:
            print(f"{path}: {problem}", file=sys.stderr)
        # Conflicts alone exit as conflicts (5); any malformed row as bad input (7).
        kind = InvalidInputError if problems else ConflictError
        raise kind(
            f"{path}: {len({_line_number(p) for p in every})} bad row(s); nothing was imported"
        ) from None
    except DatabaseUnavailableError:
        if not problems:
            raise
        for problem in problems:  # the file's own mistakes need no database
            print(f"{path}: {problem}", file=sys.stderr)
        raise InvalidInputError(
            f"{path}: {len(problems)} bad row(s) (conflicts not checked: the database is "
            "unavailable); nothing was imported"
        ) from None
    except (ConflictError, InvalidInputError, NotFoundError) as exc:
        raise type(exc)(f"{path}: {exc.message}") from None
    if args.json:
        print_json(
            {
                "dry_run": args.dry_run,
                "rows": [asdict(r) for r in results],
                "regimes": regimes_set,
            }
        )
        return 0
    for result in results:
        print(_describe(result))
    added = sum(r.person == "added" for r in results)
    assigned = sum(r.card == "assigned" for r in results)
    summary = f"{len(results)} row(s): {added} added, {assigned} card(s) assigned"
    if parsed.regimes:
        summary += f", {regimes_set} regime(s) set"
    print(summary + (" (dry run: nothing was written)" if args.dry_run else ""))
    return 0
