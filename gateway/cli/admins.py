"""`clock-gateway admins add|passwd|remove|list`: the accounts of the web pages.

Passwords are read without echo from the terminal (twice), or as one line from
stdin with --password-stdin (for scripts); never from the command line, where
`ps` and the shell history would show them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.errors import InvalidInputError, UsageError
from gateway.store.admins import AdminRow
from gateway.store.audit import Actor
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "admins",
        help="accounts that may log in to the web pages",
        description="Admin accounts of 'clock-gateway web'. Every change is audited.",
    )
    sub = parser.add_subparsers(dest="admins_command", metavar="ACTION", required=True)
    for name, helptext, func in (
        ("add", "add an admin", _add),
        ("passwd", "set an admin's password (ends their open sessions)", _passwd),
        ("remove", "remove an admin", _remove),
    ):
        p = sub.add_parser(
            name, help=helptext, description=helptext[0].upper() + helptext[1:] + "."
        )
        p.add_argument("username", metavar="USERNAME")
        if name != "remove":
            p.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password as one line from stdin instead of prompting",
            )
        add_config_option(p)
        p.set_defaults(func=func)
    listing = sub.add_parser("list", help="list the admins", description="List the admins.")
    add_config_option(listing)
    add_json_option(listing)
    listing.set_defaults(func=_list)


def read_password(from_stdin: bool) -> str:
    from gateway.web.security import MIN_PASSWORD

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise InvalidInputError("the passwords differ; nothing was changed")
    else:
        raise UsageError("no terminal to ask for the password: use --password-stdin")
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def _hash(args: argparse.Namespace) -> str:
    from gateway.web.security import hash_password

    return hash_password(read_password(args.password_stdin))


def _add(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    hashed = _hash(args)

    async def work(stores: Stores) -> None:
        await stores.admins.add(args.username, hashed, Actor.cli())

    with_stores(config, work)
    print(f"admin {args.username.strip()} added")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    hashed = _hash(args)

    async def work(stores: Stores) -> None:
        await stores.admins.set_password(args.username, hashed, Actor.cli())

    with_stores(config, work)
    print(f"password of {args.username.strip()} changed")
    return 0


def _remove(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> None:
        await stores.admins.remove(args.username, Actor.cli())

    with_stores(config, work)
    print(f"admin {args.username.strip()} removed")
    return 0


def _list(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> list[AdminRow]:
        return await stores.admins.admins()

    rows = with_stores(config, work)
    if args.json:
        print_json([{"username": r.username, "created_at": r.created_at.isoformat()} for r in rows])
    elif not rows:
        print("No admins yet: add one with 'clock-gateway admins add USERNAME'.")
    else:
        for r in rows:
            print(f"{r.username}  (since {r.created_at:%Y-%m-%d})")
    return 0
