"""`clock-gateway who`: who must be here now (or at --at), present or absent."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import (
    add_config_option,
    add_gateway_option,
    add_json_option,
    config_from_args,
    print_json,
    print_table,
)
from gateway.config import Config
from gateway.reports import render
from gateway.reports.presence import WhoReport
from gateway.reports.rules import Rules
from gateway.reports.service import presence
from gateway.reports.timeparse import parse_instant
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "who",
        help="who the timetable says must be here now: present or absent",
        description=(
            "The people whose timetable covers the instant (rooms in "
            "presence.excluded_rooms left out), each present or absent by their latest "
            "event of the shift, then those who are in without being scheduled."
        ),
    )
    add_config_option(parser)
    add_json_option(parser)
    parser.add_argument(
        "--at",
        metavar="TIME",
        help="HH:MM today, 'YYYY-MM-DD HH:MM' (local) or ISO-8601 with offset (default: now)",
    )
    add_gateway_option(parser)
    parser.set_defaults(func=_who)


def _who(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    rules = Rules.from_config(config)
    now = datetime.now(UTC)
    today = now.astimezone(rules.zone).date()
    at = parse_instant(args.at, rules.zone, today=today) if args.at else now
    report = asyncio.run(_ask(config, rules, at, now, args.gateway))
    if args.json:
        print_json(render.who_json(report, rules.zone))
        return 0
    zone = rules.zone
    server = report.server_time.astimezone(zone)
    print(f"Server time: {server:%Y-%m-%d %H:%M:%S %Z} ({zone.key})")
    if args.at:
        print(f"Timetable at: {report.at.astimezone(zone):%Y-%m-%d %H:%M %Z}")
    print(
        f"Scheduled: {len(report.scheduled)}  present: {len(report.present)}  "
        f"absent: {len(report.absent)}"
    )
    if report.scheduled:
        print_table(
            ["STATUS", "UID", "NAME", "ROOM", "SHIFT", "LAST EVENT"],
            [_row(r, rules) for r in report.scheduled],
        )
    if report.unscheduled_in:
        print()
        print(f"In but not scheduled: {len(report.unscheduled_in)}")
        print_table(
            ["UID", "NAME", "LAST EVENT"],
            [[r.uid, r.name, _last(r, rules)] for r in report.unscheduled_in],
        )
    return 0


def _row(r: Any, rules: Rules) -> list[str]:
    shift = f"{r.start:%H:%M}-{r.end:%H:%M}" if r.start and r.end else ""
    return ["present" if r.present else "absent", r.uid, r.name, r.room, shift, _last(r, rules)]


def _last(r: Any, rules: Rules) -> str:
    if r.last_event_at is None:
        return ""
    text = f"{r.last_event} {r.last_event_at.astimezone(rules.zone):%H:%M}"
    text = f"{text} (imported)" if r.last_event_imported else text
    return text + (" (corrected)" if r.corrected else "")


async def _ask(
    config: Config, rules: Rules, at: datetime, now: datetime, gateway: str | None = None
) -> WhoReport:
    stores = await Stores.open_checked(config.database)
    try:
        return await presence(stores, rules, at, now=now, gateway=gateway)
    finally:
        await stores.close()
