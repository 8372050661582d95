"""`clock-gateway corrections add|void|list`: missed punches and mistaken taps."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime
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
from gateway.reports.timeparse import parse_instant
from gateway.store.audit import Actor
from gateway.store.corrections import CorrectionRow
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "corrections",
        help="add a missed clock-in/out, void a mistaken tap, list corrections",
        description="Corrections are records of their own (who, when, why); the raw "
        "events are never changed. `report`, `who` and the web board apply them and "
        "mark the days they touch.",
    )
    sub = parser.add_subparsers(dest="corrections_command", metavar="ACTION", required=True)

    add = sub.add_parser(
        "add", help="add a missed clock-in or clock-out", description="Add a missed punch."
    )
    add.add_argument("uid", metavar="UID")
    add.add_argument("direction", choices=("in", "out"))
    add.add_argument(
        "--at",
        required=True,
        metavar="TIME",
        help="HH:MM today, 'YYYY-MM-DD HH:MM' (local) or ISO-8601 with offset",
    )
    add.add_argument("--reason", required=True, help="why (kept in the record)")
    add_config_option(add)
    add_json_option(add)
    add.set_defaults(func=_add)

    void = sub.add_parser(
        "void",
        help="void a mistaken tap",
        description="Void an event by its id (see 'events export' or the web's corrections page).",
    )
    void.add_argument("event_id", type=argtypes.event_id, metavar="EVENT_ID")
    void.add_argument("--reason", required=True, help="why (kept in the record)")
    add_config_option(void)
    add_json_option(void)
    void.set_defaults(func=_void)

    listing = sub.add_parser("list", help="list corrections, newest first")
    listing.add_argument("--user", metavar="UID", help="only this person's")
    listing.add_argument("--limit", type=argtypes.count, default=50, metavar="N")
    add_config_option(listing)
    add_json_option(listing)
    listing.set_defaults(func=_list)


def _add(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    zone = config.zone
    at = parse_instant(args.at, zone, today=datetime.now(zone).date())

    async def work(stores: Stores) -> int:
        return await stores.corrections.add_missing(
            args.uid, args.direction, at, args.reason, Actor.cli()
        )

    new = with_stores(config, work)
    if args.json:
        print_json({"id": new})
    else:
        when = at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        print(f"correction {new}: {args.direction} for {args.uid} at {when}")
    return 0


def _void(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> int:
        return await stores.corrections.void(args.event_id, args.reason, Actor.cli())

    new = with_stores(config, work)
    if args.json:
        print_json({"id": new})
    else:
        print(f"correction {new}: event {args.event_id} voided")
    return 0


def _list(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> list[CorrectionRow]:
        return await stores.corrections.recent(uid=args.user, limit=max(1, args.limit))

    rows = with_stores(config, work)
    if args.json:
        print_json([asdict(r) for r in rows])
        return 0
    if not rows:
        print("No corrections.")
        return 0
    zone = config.zone
    print_table(
        ("ID", "UID", "KIND", "DIR", f"AT ({config.timezone})", "EVENT", "BY", "REASON"),
        (
            (
                r.id,
                r.person_uid,
                r.kind,
                r.direction,
                f"{r.at.astimezone(zone):%Y-%m-%d %H:%M}",
                r.event_id or "",
                r.created_by,
                r.reason,
            )
            for r in rows
        ),
    )
    return 0
