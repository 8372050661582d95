"""`clock-gateway report`: hours per person per day, flags and month totals."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, timedelta
from typing import Any

from gateway.cli.argtypes import add_date_range, date_range
from gateway.cli.common import (
    add_config_option,
    add_gateway_option,
    config_from_args,
    print_json,
    print_table,
)
from gateway.config import Config
from gateway.csvout import csv_writer
from gateway.errors import UsageError
from gateway.reports import render, worktime_render
from gateway.reports.rules import DEFAULT_MAX_SESSION, Rules
from gateway.reports.service import build_report
from gateway.reports.sessions import Report
from gateway.reports.worktime_service import WorkTimeReport, build_worktime
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="hours worked per person per day, with flags and month totals",
        description=(
            "Per person per local day: first in, last out, worked time over in/out pairs "
            "and flags (missing-out, out-without-in, duplicates, late, absent, open); "
            "then a total per person per month. Everything is derived from the raw "
            "events, which are never changed."
        ),
    )
    add_config_option(parser)
    add_date_range(
        parser,
        required=True,
        to_required=False,
        from_help="YYYY-MM-DD",
        to_help="YYYY-MM-DD, inclusive (default: --from)",
    )
    parser.add_argument("--user", metavar="UID", help="only this person")
    add_gateway_option(parser)
    parser.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output format"
    )
    parser.add_argument(
        "--max-session-hours",
        type=float,
        default=DEFAULT_MAX_SESSION.total_seconds() / 3600,
        metavar="H",
        help="an in and an out further apart are not paired (default: %(default)g)",
    )
    parser.add_argument(
        "--worktime",
        action="store_true",
        help="working time as the register counts it: each pause, net time, hour classes "
        "(ordinary, overtime paid or rest, complementary) and the named limit flags",
    )
    parser.set_defaults(func=_report)


def rules_from_args(config: Config, hours: float) -> Rules:
    if not 0 < hours <= 24:
        raise UsageError("--max-session-hours must be more than 0 and at most 24")
    return Rules.from_config(config, max_session=timedelta(hours=hours))


def _report(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    rules = rules_from_args(config, args.max_session_hours)
    given, until = date_range(args)
    assert given is not None  # required by argparse
    first, last = given, until or given
    if args.worktime:
        return _worktime(config, rules, first, last, args)
    report = asyncio.run(_build(config, rules, first, last, args.user, args.gateway))
    if args.format == "json":
        print_json(render.report_json(report))
    elif args.format == "csv":
        writer = csv_writer(sys.stdout)
        writer.writerow(render.CSV_COLUMNS)
        writer.writerows(render.report_csv_rows(report))
    else:
        _print_table(report)
    return 0


async def _build(
    config: Config, rules: Rules, first: date, last: date, uid: str | None, gateway: str | None
) -> Report:
    stores = await Stores.open_checked(config.database)
    try:
        return await build_report(stores, rules, first, last, uid=uid, gateway=gateway)
    finally:
        await stores.close()


def _worktime(
    config: Config, rules: Rules, first: date, last: date, args: argparse.Namespace
) -> int:
    async def build() -> WorkTimeReport:
        stores = await Stores.open_checked(config.database)
        try:
            return await build_worktime(
                stores,
                rules,
                config.register.worktime,
                first,
                last,
                uid=args.user,
                gateway=args.gateway,
            )
        finally:
            await stores.close()

    report = asyncio.run(build())
    if args.format == "json":
        print_json(worktime_render.worktime_json(report))
        return 0
    if args.format == "csv":
        writer = csv_writer(sys.stdout)
        writer.writerow(worktime_render.DAY_COLUMNS)
        writer.writerows(worktime_render.day_rows(report))
        return 0
    print(f"Working time {first} to {last} ({rules.zone.key})")
    if not report.people:
        print("No working days in this range.")
        return 0
    print()
    print_table(worktime_render.DAY_COLUMNS, worktime_render.day_rows(report))
    print()
    print("Month totals")
    print_table(worktime_render.MONTH_COLUMNS, worktime_render.month_rows(report))
    return 0


def _print_table(report: Report) -> None:
    zone = report.rules.zone
    generated = report.generated_at.astimezone(zone)
    print(
        f"Report {report.first_day} to {report.last_day} ({zone.key}), "
        f"generated {datetime.strftime(generated, '%Y-%m-%d %H:%M')}"
    )
    if not report.days:
        print("No events and no timetable in this range.")
        return
    print()
    print_table(*render.report_table_days(report))
    print()
    print("Month totals")
    print_table(*render.report_table_months(report))
