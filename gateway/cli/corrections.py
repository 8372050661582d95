"""`clock-gateway corrections add|void|accept|reject|withdraw|list`: missed punches and
mistaken taps, and the company's side of their agreement (gateway/store/correction_steps.py).

The CLI acts for the company: what it files waits for the worker; it accepts or rejects
what a worker requested, and withdraws what the company proposed."""

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
from gateway.store.correction_steps import Decision
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

    for name, helptext in (
        ("accept", "accept a worker's missed-punch request (it comes into force)"),
        ("reject", "reject a worker's request, saying why"),
        ("withdraw", "withdraw a correction the company proposed while it waits"),
    ):
        step = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:])
        step.add_argument("correction_id", type=argtypes.event_id, metavar="CORRECTION_ID")
        step.add_argument(
            "--reason",
            required=name == "reject",
            default="",
            help="why (kept in the record)" + (" (required)" if name == "reject" else ""),
        )
        add_config_option(step)
        add_json_option(step)
        step.set_defaults(func=_step, decision=_DECISIONS[name])

    listing = sub.add_parser("list", help="list corrections, newest first")
    listing.add_argument("--user", metavar="UID", help="only this person's")
    listing.add_argument("--limit", type=argtypes.count, default=50, metavar="N")
    listing.add_argument(
        "--pending", action="store_true", help="only those waiting for an answer, oldest first"
    )
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
        print(
            f"correction {new}: {args.direction} for {args.uid} at {when}, proposed: "
            "it counts once the worker accepts it"
        )
    return 0


def _void(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> int:
        return await stores.corrections.void(args.event_id, args.reason, Actor.cli())

    new = with_stores(config, work)
    if args.json:
        print_json({"id": new})
    else:
        print(
            f"correction {new}: void of event {args.event_id} proposed: it counts once the "
            "worker accepts it"
        )
    return 0


_DECISIONS: dict[str, Decision] = {
    "accept": "accepted",
    "reject": "rejected",
    "withdraw": "withdrawn",
}


def _step(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> CorrectionRow:
        return await stores.corrections.decide(
            args.correction_id, args.decision, Actor.cli(), side="company", note=args.reason
        )

    row = with_stores(config, work)
    if args.json:
        print_json(_json(row))
    else:
        print(f"correction {row.id} ({row.person_uid}): {row.state}")
    return 0


def _json(row: CorrectionRow) -> dict[str, Any]:
    return {**asdict(row), "state": row.state, "waits_for": row.waits_for}


def _list(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> list[CorrectionRow]:
        if args.pending:
            found = await stores.corrections.pending(uid=args.user)
            return found[: max(1, args.limit)]
        return await stores.corrections.recent(uid=args.user, limit=max(1, args.limit))

    rows = with_stores(config, work)
    if args.json:
        print_json([_json(r) for r in rows])
        return 0
    if not rows:
        print("No pending corrections." if args.pending else "No corrections.")
        return 0
    zone = config.zone
    print_table(
        (
            "ID",
            "UID",
            "KIND",
            "DIR",
            f"AT ({config.timezone})",
            "EVENT",
            "BY",
            "STATE",
            "REASON",
        ),
        (
            (
                r.id,
                r.person_uid,
                r.kind,
                r.direction,
                f"{r.at.astimezone(zone):%Y-%m-%d %H:%M}",
                r.event_id or "",
                r.created_by,
                f"{r.state}, waits for {r.waits_for}" if r.waits_for else r.state,
                r.reason,
            )
            for r in rows
        ),
    )
    return 0
