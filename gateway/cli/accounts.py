"""`clock-gateway accounts add|passwd|role|remove|list` (also as `admins`, its name
before accounts had roles): the accounts of the web pages.

Passwords are read without echo from the terminal (twice), or as one line from
stdin with --password-stdin (for scripts); never from the command line, where
`ps` and the shell history would show them. An expiry date is a local date of the
configured time zone: the account works through that day and not after.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.errors import InvalidInputError, UsageError
from gateway.store.accounts import AccountRow, checked_role, one_time_code
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from gateway.store.tables import ACCOUNT_ROLES

NAMES = {
    "accounts": "accounts of the web pages, each with a role",
    "admins": "the same as 'accounts' (its name before accounts had roles)",
}
ROLES_HELP = (
    "admin: everything; hr: people, cards, corrections, reports; inspector: reads "
    "everything, changes nothing, needs --expires; representative: monthly totals only; "
    "worker: one person's own record (made with add-worker)"
)


def register(subparsers: Any) -> None:
    for command, helptext in NAMES.items():
        parser = subparsers.add_parser(
            command,
            help=helptext,
            description="Accounts of 'clock-gateway web' and their roles. Every change is "
            "audited; a new password, a new role or a removal ends the account's sessions.",
        )
        _actions(parser)


def _actions(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add an account", description="Add an account.")
    add.add_argument("username", metavar="USERNAME")
    _role_options(add, required=False)
    _password_option(add)
    add_config_option(add)
    add.set_defaults(func=_add)

    passwd = sub.add_parser(
        "passwd",
        help="set an account's password (ends its open sessions)",
        description="Set an account's password; its open sessions end.",
    )
    passwd.add_argument("username", metavar="USERNAME")
    _password_option(passwd)
    add_config_option(passwd)
    passwd.set_defaults(func=_passwd)

    role = sub.add_parser(
        "role",
        help="change an account's role or expiry (ends its open sessions)",
        description="Give an account a role and an expiry (none unless --expires); its "
        "open sessions end.",
    )
    role.add_argument("username", metavar="USERNAME")
    _role_options(role, required=True)
    add_config_option(role)
    role.set_defaults(func=_role)

    worker = sub.add_parser(
        "add-worker",
        help="a worker's account for one person, with a one-time code",
        description="Make a worker's account for PERSON (a uid): it sees only that "
        "person's record. A one-time code is printed once (give it to the worker); the "
        "first sign-in with it must set a password of their own. The username is the "
        "person's uid unless --username says otherwise; a username that is a mail "
        "address is where the worker is told of a forgotten clock-out.",
    )
    worker.add_argument("person", metavar="PERSON")
    worker.add_argument("--username", metavar="NAME", help="default: the person's uid")
    add_config_option(worker)
    add_json_option(worker)
    worker.set_defaults(func=_add_worker)

    code = sub.add_parser(
        "new-code",
        help="a new one-time code for a worker's account (ends its sessions)",
        description="Replace a worker's password with a new one-time code, printed once.",
    )
    code.add_argument("username", metavar="USERNAME")
    add_config_option(code)
    add_json_option(code)
    code.set_defaults(func=_new_code)

    remove = sub.add_parser("remove", help="remove an account", description="Remove an account.")
    remove.add_argument("username", metavar="USERNAME")
    add_config_option(remove)
    remove.set_defaults(func=_remove)

    listing = sub.add_parser("list", help="list the accounts", description="List the accounts.")
    add_config_option(listing)
    add_json_option(listing)
    listing.set_defaults(func=_list)


def _role_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--role",
        choices=ACCOUNT_ROLES,
        required=required,
        default=None if required else "admin",
        help=ROLES_HELP + ("" if required else " (default: admin)"),
    )
    parser.add_argument(
        "--expires",
        metavar="YYYY-MM-DD",
        help="the last day the account may sign in (required for inspector)",
    )


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password as one line from stdin instead of prompting",
    )


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


def expiry(text: str | None, zone: ZoneInfo) -> datetime | None:
    """The end of the given local day (the next midnight), or None."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"bad date {text!r}: use YYYY-MM-DD") from None
    try:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    except OverflowError:
        raise InvalidInputError(f"bad date {text!r}: too far in the future") from None


def _hash(args: argparse.Namespace) -> str:
    from gateway.web.security import hash_password

    return hash_password(read_password(args.password_stdin))


def _add(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    ends = expiry(args.expires, config.zone)
    checked_role(args.role, ends)  # before asking for a password
    hashed = _hash(args)

    async def work(stores: Stores) -> None:
        await stores.accounts.add(
            args.username, hashed, Actor.cli(), role=args.role, expires_at=ends
        )

    with_stores(config, work)
    print(f"account {args.username.strip()} added ({_role_text(args.role, args.expires)})")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    hashed = _hash(args)

    async def work(stores: Stores) -> int:
        return await stores.accounts.set_password(args.username, hashed, Actor.cli())

    ended = with_stores(config, work)
    print(f"password of {args.username.strip()} changed; {ended} open session(s) ended")
    return 0


def _add_worker(args: argparse.Namespace) -> int:
    name = (args.username or args.person).strip()

    async def store(stores: Stores, hashed: str) -> None:
        await stores.accounts.add_worker(name, args.person, hashed, Actor.cli())

    return _with_new_code(args, name, store)


def _new_code(args: argparse.Namespace) -> int:
    async def store(stores: Stores, hashed: str) -> object:
        return await stores.accounts.new_code(args.username, hashed, Actor.cli())

    return _with_new_code(args, args.username.strip(), store)


def _with_new_code(
    args: argparse.Namespace,
    name: str,
    store: Callable[[Stores, str], Awaitable[object]],
) -> int:
    """A fresh one-time code, stored hashed by `store`, then shown (add-worker, new-code)."""
    from gateway.web.security import hash_password

    config = config_from_args(args)
    code = one_time_code()
    hashed = hash_password(code)

    async def work(stores: Stores) -> object:
        return await store(stores, hashed)

    with_stores(config, work)
    _show_code(args, name, code)
    return 0


def _show_code(args: argparse.Namespace, name: str, code: str) -> None:
    """The one place the code is ever shown: it is stored only hashed."""
    if args.json:
        print_json({"username": name, "code": code})
        return
    print(f"worker account {name}: one-time code {code}")
    print("Give it to the worker: it is shown only now; the first sign-in sets a password.")


def _role(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    ends = expiry(args.expires, config.zone)

    async def work(stores: Stores) -> int:
        return await stores.accounts.set_role(args.username, args.role, ends, Actor.cli())

    ended = with_stores(config, work)
    print(
        f"account {args.username.strip()} is now {_role_text(args.role, args.expires)}; "
        f"{ended} open session(s) ended"
    )
    return 0


def _remove(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> None:
        await stores.accounts.remove(args.username, Actor.cli())

    with_stores(config, work)
    print(f"account {args.username.strip()} removed")
    return 0


def _role_text(role: str, expires: str | None) -> str:
    return role + (f", until {expires}" if expires else "")


def _list(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def work(stores: Stores) -> list[AccountRow]:
        return await stores.accounts.accounts()

    rows = with_stores(config, work)
    zone = config.zone

    def last_day(row: AccountRow) -> str | None:
        if row.expires_at is None:
            return None
        return (row.expires_at.astimezone(zone).date() - timedelta(days=1)).isoformat()

    if args.json:
        print_json(
            [
                {
                    "username": r.username,
                    "role": r.role,
                    "created_at": r.created_at.isoformat(),
                    "expires": last_day(r),
                    "person_uid": r.person_uid,
                }
                for r in rows
            ]
        )
    elif not rows:
        print("No accounts yet: add one with 'clock-gateway accounts add USERNAME'.")
    else:
        for r in rows:
            until = last_day(r)
            print(
                f"{r.username}  {r.role}"
                + (f" of {r.person_uid}" if r.person_uid else "")
                + f"  (since {r.created_at:%Y-%m-%d}"
                + (f", until {until})" if until else ")")
            )
    return 0
