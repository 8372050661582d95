"""`clock-gateway db init|check`: create the schema, and see whether the database is usable."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.errors import DatabaseUnavailableError
from gateway.store.oneshot import with_stores

if TYPE_CHECKING:
    from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "db",
        help="create or check the database",
        description="Create the database schema, or check that the database is usable.",
    )
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = sub.add_parser(
        "init",
        help="create the tables if they are missing (safe to run again)",
        description="Apply schema.sql (PostgreSQL) or create the SQLite file and its tables. "
        "Existing tables and data are left as they are.",
    )
    add_config_option(init)
    add_json_option(init)
    init.set_defaults(func=_init)
    check = sub.add_parser(
        "check",
        help="is the database reachable, and which schema version does it have?",
        description="Connect to the configured database and read its schema version. "
        "Exits 0 if the gateway can use it, 6 if it cannot.",
    )
    add_config_option(check)
    add_json_option(check)
    check.set_defaults(func=_check)
    grant = sub.add_parser(
        "grant-daemon",
        help="give an existing PostgreSQL role exactly what the daemon needs",
        description="Run as the database's owner (the role of 'db init'), after a superuser "
        "created ROLE ('sudo -u postgres createuser --pwprompt ROLE'). Grants CONNECT "
        "(revoked from PUBLIC), reading people and cards, and inserting events without "
        "their id or stored time; see docs/DATABASE.md. Safe to run again.",
    )
    grant.add_argument("role", metavar="ROLE", help="the daemon's login role")
    grant.add_argument(
        "--dry-run", action="store_true", help="print the statements, change nothing"
    )
    add_config_option(grant)
    grant.set_defaults(func=_grant)


async def _initialise(stores: Stores) -> tuple[str, str, int]:
    await stores.db.init_schema()
    return stores.db.url, stores.db.dialect, await stores.db.check()


async def _inspect(stores: Stores) -> tuple[str, str, int]:
    return stores.db.url, stores.db.dialect, await stores.db.check()


def _report(args: argparse.Namespace, url: str, dialect: str, version: int, verb: str) -> None:
    if args.json:
        print_json({"url": url, "backend": dialect, "schema_version": version, "ok": True})
    else:
        print(f"{url}: {verb}, schema version {version} ({dialect})")


def _init(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    url, dialect, version = with_stores(config, _initialise)
    _report(args, url, dialect, version, "schema ready")
    return 0


def _check(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    url, dialect, version = with_stores(config, _inspect)
    from gateway.store.tables import SCHEMA_VERSION  # here: loads SQLAlchemy

    if version < SCHEMA_VERSION:
        raise DatabaseUnavailableError(
            f"{url}: schema version {version} is older than {SCHEMA_VERSION}: "
            "run 'clock-gateway db init'"
        )
    if version > SCHEMA_VERSION:
        raise DatabaseUnavailableError(
            f"{url}: schema version {version} is newer than this clock-gateway "
            f"understands ({SCHEMA_VERSION}): upgrade clock-gateway"
        )
    _report(args, url, dialect, version, "reachable")
    return 0


def _grant(args: argparse.Namespace) -> int:
    from gateway.store.grants import grant_daemon, plan_daemon_grants  # loads SQLAlchemy

    config = config_from_args(args)

    async def work(stores: Stores) -> tuple[str, list[str]]:
        act = plan_daemon_grants if args.dry_run else grant_daemon
        plan = await act(stores.db, args.role)
        return plan.database, plan.statements

    database, statements = with_stores(config, work)
    for statement in statements:
        print(f"{statement};")
    verb = "would be granted (dry run)" if args.dry_run else "granted"
    print(f"-- role {args.role}: daemon privileges on database {database} {verb}")
    return 0
