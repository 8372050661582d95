"""`clock-gateway cards assign|revoke|unknown`: give people cards by tapping them."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.cli import argtypes
from gateway.cli.common import (
    add_config_option,
    add_json_option,
    config_from_args,
    print_json,
    print_table,
)
from gateway.cli.oneshot import with_stores
from gateway.domain import Person, normalise_card_key
from gateway.errors import UsageError
from gateway.store.audit import Actor
from gateway.store.models import UnknownSwipeRow

if TYPE_CHECKING:
    from gateway.store.stores import Stores

_ENROL_HINT = "tap a new card on any reader, then assign it from this list"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cards",
        help="assign, revoke and discover cards",
        description="Cards: assign a card to a person, revoke it, or list the cards "
        f"readers have seen that nobody holds ({_ENROL_HINT}).",
    )
    sub = parser.add_subparsers(dest="cards_command", metavar="ACTION", required=True)

    assign = sub.add_parser(
        "assign",
        help="give a card to a person",
        description="Give the card KEY to the person UID. A card belongs to at most one "
        "person at a time: revoke it from its holder first. A person may hold several cards.",
    )
    assign.add_argument("key", metavar="KEY", help="card UID in hex, e.g. 04A1B2C3 or 04:a1:b2:c3")
    assign.add_argument("uid", metavar="UID", help="the person's uid")
    add_config_option(assign)
    add_json_option(assign)
    assign.set_defaults(func=_assign)

    revoke = sub.add_parser(
        "revoke",
        help="take a card away from its holder",
        description="End the card's current assignment; its history is kept.",
    )
    revoke.add_argument("key", metavar="KEY", help="card UID in hex")
    add_config_option(revoke)
    add_json_option(revoke)
    revoke.set_defaults(func=_revoke)

    unknown = sub.add_parser(
        "unknown",
        help="cards seen on a reader that nobody holds, most recent first",
        description=f"Recent swipes of cards nobody holds: {_ENROL_HINT} with "
        "'clock-gateway cards assign KEY UID'.",
    )
    unknown.add_argument(
        "--limit",
        type=argtypes.count,
        default=20,
        metavar="N",
        help="show at most N cards (default 20)",
    )
    add_config_option(unknown)
    add_json_option(unknown)
    unknown.set_defaults(func=_unknown)


def _assign(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    key = normalise_card_key(args.key)

    async def work(stores: Stores) -> tuple[Person | None, Person | None]:
        before = await stores.swipes.find_person_by_card(key)
        await stores.lifecycle.assign_card(key, args.uid, Actor.cli())
        return before, await stores.swipes.find_person_by_card(key)

    before, holder = with_stores(config, work)
    if args.json:
        print_json({"card_key": key, "uid": args.uid.strip(), "changed": before is None})
    elif holder is not None:
        verb = "already held by" if before == holder else "assigned to"
        print(f"card {key} {verb} {holder.uid} ({holder.name})")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    key = normalise_card_key(args.key)

    async def work(stores: Stores) -> str:
        return await stores.lifecycle.revoke_card(key, Actor.cli())

    former = with_stores(config, work)
    if args.json:
        print_json({"card_key": key, "revoked_from": former})
    else:
        print(f"card {key} revoked from {former}")
    return 0


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _unknown(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.limit < 1:
        raise UsageError("--limit must be 1 or more")

    async def work(stores: Stores) -> list[UnknownSwipeRow]:
        return await stores.people.unknown_swipes(limit=args.limit)

    rows = with_stores(config, work)
    if args.json:
        print_json(
            [
                {
                    **asdict(r),
                    "first_seen": r.first_seen.isoformat(),
                    "last_seen": r.last_seen.isoformat(),
                }
                for r in rows
            ]
        )
        return 0
    if not rows:
        print(f"No unknown cards yet: {_ENROL_HINT}.")
        return 0
    zone = config.zone
    print_table(
        ("CARD", f"LAST SEEN ({config.timezone})", "TIMES", "READER", "FIRST SEEN"),
        (
            (
                r.card_key,
                _local(r.last_seen, zone),
                r.count,
                r.last_reader,
                _local(r.first_seen, zone),
            )
            for r in rows
        ),
    )
    print(f"\nAssign one with: clock-gateway cards assign {rows[0].card_key} UID")
    return 0
