"""`clock-gateway regime set|show|overtime`: a person's working regime, with its history,
and hr's paid-or-rest choice for a month's overtime (issue 22 item 1)."""

from __future__ import annotations

import argparse
import math
from datetime import date
from typing import Any

from gateway.cli import argtypes
from gateway.cli.common import (
    add_config_option,
    add_json_option,
    config_from_args,
    print_json,
    print_table,
)
from gateway.cli.oneshot import with_stores
from gateway.reports.timeparse import parse_date
from gateway.store.audit import Actor
from gateway.store.regimes import COMPENSATIONS, PLACES, Regime, terms
from gateway.store.stores import Stores

HELP = "set or show a person's working regime (full or part time, place, overtime)"


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of hours, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 168):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 168 hours, got {text}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "regime",
        help=HELP,
        description="A working regime says from which date a person works full or part "
        "time (and how many hours a week), on site, remotely or both, and whether their "
        "overtime is paid or given back as rest. Regimes are never changed: a new one "
        "from a date replaces the old from that date, and the history stays.",
    )
    sub = parser.add_subparsers(dest="regime_command", metavar="ACTION", required=True)

    setter = sub.add_parser(
        "set", help="set a person's regime from a date", description="Set a regime from a date."
    )
    setter.add_argument("uid", metavar="PERSON")
    setter.add_argument("--from", dest="valid_from", required=True, metavar="YYYY-MM-DD")
    kind = setter.add_mutually_exclusive_group(required=True)
    kind.add_argument("--full-time", action="store_true", help="full time")
    kind.add_argument(
        "--part-time",
        type=argtypes.int_range(1, 99),
        metavar="PCT",
        help="part time, this percentage of the full week",
    )
    setter.add_argument(
        "--weekly-hours",
        type=_hours,
        metavar="H",
        help="the contract's hours a week (default: the full week of [register], or its PCT share)",
    )
    setter.add_argument("--place", required=True, choices=PLACES)
    setter.add_argument(
        "--overtime",
        choices=COMPENSATIONS,
        default="paid",
        help="overtime paid or given back as rest, by default (hr may choose per month)",
    )
    add_config_option(setter)
    add_json_option(setter)
    setter.set_defaults(func=_set)

    show = sub.add_parser("show", help="a person's regimes, oldest first")
    show.add_argument("uid", metavar="PERSON")
    add_config_option(show)
    add_json_option(show)
    show.set_defaults(func=_show)

    overtime = sub.add_parser(
        "overtime",
        help="choose paid or rest for a person's overtime in one month",
        description="hr's choice for one month; the newest choice for a month wins, and "
        "months without one follow the regime's default.",
    )
    overtime.add_argument("uid", metavar="PERSON")
    overtime.add_argument("--month", required=True, metavar="YYYY-MM")
    overtime.add_argument("choice", choices=COMPENSATIONS)
    add_config_option(overtime)
    add_json_option(overtime)
    overtime.set_defaults(func=_overtime)


def regime_json(r: Regime) -> dict[str, Any]:
    return {
        "id": r.id,
        "uid": r.person_uid,
        "valid_from": r.valid_from.isoformat(),
        "kind": r.terms.kind,
        "weekly_minutes": r.terms.weekly_minutes,
        "weekly_hours": round(r.terms.weekly_minutes / 60, 2),
        "part_time_percent": r.terms.part_time_percent,
        "place": r.terms.place,
        "overtime_default": r.terms.overtime_default,
        "created_by": r.created_by,
        "created_at": r.created_at.isoformat(),
    }


def describe(r: Regime) -> str:
    """'part time 50 % (20 h/week), on_site, overtime paid'."""
    t = r.terms
    hours = f"{t.weekly_minutes / 60:g} h/week"
    what = "full time" if t.part_time_percent is None else f"part time {t.part_time_percent} %"
    return f"{what} ({hours}), {t.place}, overtime {t.overtime_default}"


def _set(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    valid_from: date = parse_date(args.valid_from)
    chosen = terms(
        part_time_percent=args.part_time,
        weekly_hours=args.weekly_hours,
        place=args.place,
        overtime=args.overtime,
        full_week_minutes=config.register.worktime.full_week_minutes,
    )

    async def work(stores: Stores) -> int | None:
        return await stores.regimes.add(args.uid, valid_from, chosen, Actor.cli())

    new = with_stores(config, work)
    if args.json:
        print_json({"id": new, "added": new is not None})
        return 0
    if new is None:
        print(f"{args.uid}: that regime is already set from {valid_from}; nothing written")
        return 0
    hours = f"{chosen.weekly_minutes / 60:g} h/week"
    what = "full time" if args.part_time is None else f"part time {args.part_time} %"
    print(f"regime {new}: {args.uid} from {valid_from}: {what} ({hours}), {chosen.place}")
    return 0


def _show(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> list[Regime]:
        return await stores.regimes.history(args.uid)

    regimes = with_stores(config, work)
    if args.json:
        print_json([regime_json(r) for r in regimes])
        return 0
    if not regimes:
        print(f"{args.uid}: no regime set (reports count them as full time)")
        return 0
    print_table(
        ("FROM", "REGIME", "SET BY", "SET AT"),
        (
            (
                r.valid_from.isoformat(),
                describe(r),
                r.created_by,
                f"{r.created_at.astimezone(config.zone):%Y-%m-%d %H:%M}",
            )
            for r in regimes
        ),
    )
    return 0


def _overtime(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> int:
        return await stores.regimes.choose_overtime(args.uid, args.month, args.choice, Actor.cli())

    new = with_stores(config, work)
    if args.json:
        print_json({"id": new})
    else:
        print(f"overtime of {args.uid} in {args.month}: {args.choice}")
    return 0
