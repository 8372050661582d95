"""argparse types that refuse what would otherwise fail deep inside a command.

`type=int` takes `１２` (full-width digits) and numbers no database column holds;
`type=float` takes `nan`, `inf` and `1e20`. These check the range up front, so a
bad option is one clear line from argparse instead of a traceback later.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import date

from gateway.errors import UsageError
from gateway.reports.timeparse import parse_date

# The largest id a bigint (PostgreSQL) or INTEGER (SQLite) column holds.
MAX_ID = 2**63 - 1


def ascii_int(text: str, *, lowest: int, highest: int, what: str) -> int:
    """An integer written with ASCII digits only, within [lowest, highest]."""
    digits = text.strip()
    body = digits.removeprefix("-")
    if not (body.isascii() and body.isdigit()):
        raise ValueError(f"{what} must be a whole number, got {text[:40]!r}")
    value = int(digits)
    if not lowest <= value <= highest:
        raise ValueError(f"{what} must be between {lowest} and {highest}, got {digits[:40]}")
    return value


def int_range(lowest: int, highest: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return ascii_int(text, lowest=lowest, highest=highest, what="the value")
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("the value ")) from None

    return parse


def seconds(highest: float) -> Callable[[str], float]:
    """A finite number of seconds from 0 to `highest`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
        if not (math.isfinite(value) and 0 <= value <= highest):
            raise argparse.ArgumentTypeError(f"must be from 0 to {highest:g} seconds, got {text}")
        return value

    return parse


event_id = int_range(0, MAX_ID)
count = int_range(1, MAX_ID)


def add_date_range(
    parser: argparse.ArgumentParser,
    *,
    required: bool,
    to_required: bool | None = None,
    from_help: str = "the first day (YYYY-MM-DD)",
    to_help: str = "the last day, inclusive (YYYY-MM-DD)",
) -> None:
    """--from/--to as `first`/`last`, the range every dated command takes; read it back
    with `date_range` (parsed, and refused when --to is before --from)."""
    parser.add_argument("--from", dest="first", required=required, metavar="DATE", help=from_help)
    parser.add_argument(
        "--to",
        dest="last",
        required=required if to_required is None else to_required,
        metavar="DATE",
        help=to_help,
    )


def date_range(args: argparse.Namespace) -> tuple[date | None, date | None]:
    """The days given by `add_date_range`'s options, None where an option was left out."""
    first = parse_date(args.first) if args.first else None
    last = parse_date(args.last) if args.last else None
    if first and last and last < first:
        raise UsageError("--to is before --from")
    return first, last
