"""`clock-gateway users rename|deactivate|reactivate|erase`: each change audited."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.errors import UsageError
from gateway.store.audit import Actor
from gateway.store.lifecycle import Erasure
from gateway.store.stores import Stores


def add_person_actions(sub: Any) -> None:
    rename = sub.add_parser(
        "rename",
        help="change a person's name",
        description="Change the name shown on the readers and the board; the uid stays.",
    )
    rename.add_argument("uid", metavar="UID")
    rename.add_argument("name", metavar="NAME")
    _common(rename, _rename)

    for verb, active in (("deactivate", False), ("reactivate", True)):
        p = sub.add_parser(
            verb,
            help=f"{verb} a person",
            description="An inactive person's cards stop working; their records stay."
            if not active
            else "Let an inactive person's cards work again.",
        )
        p.add_argument("uid", metavar="UID")
        _common(p, _set_active)
        p.set_defaults(active=active)

    erase = sub.add_parser(
        "erase",
        help="erase what the working-time register does not need; keep the register",
        description="Revoke the person's cards, delete their timetable and take them off "
        "every list (inactive, marked erased). Their register (clock events, corrections, "
        "audit rows, and the uid and name they are under) is kept as it is for the legal "
        "retention period (GDPR art. 17(3)(b)); the retention purge deletes it, and then "
        "the person, as it ages out. Cannot be undone. See docs/REGISTER.md.",
    )
    erase.add_argument("uid", metavar="UID")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _common(erase, _erase)


def _common(parser: argparse.ArgumentParser, func: Any) -> None:
    add_config_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=func)


def _rename(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> str:
        return await stores.lifecycle.rename(args.uid, args.name, Actor.cli())

    old = with_stores(config, work)
    new = " ".join(args.name.split())
    if args.json:
        print_json({"uid": args.uid, "old_name": old, "name": new})
    else:
        print(f"{args.uid}: renamed from {old!r} to {new!r}")
    return 0


def _set_active(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> None:
        await stores.lifecycle.set_active(args.uid, args.active, Actor.cli())

    with_stores(config, work)
    if args.json:
        print_json({"uid": args.uid, "active": args.active})
    else:
        print(f"{args.uid}: {'reactivated' if args.active else 'deactivated'}")
    return 0


def _erase(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("erasing cannot be undone: confirm with --yes")
        answer = input(f"Erase {args.uid} (the register is kept)? Type the uid to confirm: ")
        if answer.strip() != args.uid:
            raise UsageError("not confirmed; nothing was changed")

    async def work(stores: Stores) -> Erasure:
        return await stores.lifecycle.erase(args.uid, Actor.cli())

    erased = with_stores(config, work)
    if args.json:
        print_json(asdict(erased))
    else:
        print(f"erased {erased.uid}: {erased}")
    return 0
