"""`clock-gateway db init|check|upgrade`: create the schema, see whether the database is
usable, and bring an older schema to the current version."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores

# The schema version that brought the register's seals.
REGISTER_VERSION = 3

if TYPE_CHECKING:
    from gateway.store.stores import Stores
    from gateway.store.upgrade import UpgradeResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "db",
        help="create, check or upgrade the database",
        description="Create the database schema, check that the database is usable, "
        "or upgrade an older schema.",
    )
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = sub.add_parser(
        "init",
        help="create the tables if they are missing (safe to run again)",
        description="Apply schema.sql (PostgreSQL) or create the SQLite file and its tables. "
        "Existing tables and data are left as they are. A database with an older schema "
        "is refused: 'db upgrade' brings it up to date.",
    )
    add_config_option(init)
    add_json_option(init)
    init.set_defaults(func=_init)
    check = sub.add_parser(
        "check",
        help="is the database reachable, and which schema version does it have?",
        description="Connect to the configured database and read its schema version. "
        "Exits 0 if the gateway can use it, 6 if it cannot (unreachable, no schema, or a "
        "schema that needs 'db upgrade').",
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
    grant.set_defaults(func=_grant, web=False)
    web = sub.add_parser(
        "grant-web",
        help="give an existing PostgreSQL role exactly what the web app needs",
        description="As grant-daemon, for the web app's role: read every table, change "
        "people, cards, the timetable and the logins, add corrections and audit rows; "
        "never update or delete the register (events, corrections, audit, seals).",
    )
    web.add_argument("role", metavar="ROLE", help="the web app's login role")
    web.add_argument("--dry-run", action="store_true", help="print the statements, change nothing")
    add_config_option(web)
    web.set_defaults(func=_grant, web=True)
    upgrade = sub.add_parser(
        "upgrade",
        help="bring an older schema to this version of clock-gateway",
        description="Apply the upgrade steps from the database's schema version to the "
        "current one, each in its own transaction, keeping every row. Safe to run again, "
        "and at the same time as another upgrade (they take turns). Use the schema "
        "owner's URL. A schema newer than this clock-gateway knows is refused (exit 6).",
    )
    upgrade.add_argument(
        "--dry-run", action="store_true", help="show the steps that would run; change nothing"
    )
    add_config_option(upgrade)
    add_json_option(upgrade)
    upgrade.set_defaults(func=_upgrade)


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
    # check() refuses a schema of another version, with the command that mends it.
    config = config_from_args(args)
    url, dialect, version = with_stores(config, _inspect)
    _report(args, url, dialect, version, "reachable")
    return 0


def _grant(args: argparse.Namespace) -> int:
    from gateway.store import grants  # loads SQLAlchemy

    config = config_from_args(args)

    async def work(stores: Stores) -> tuple[str, list[str]]:
        if args.web:
            act = grants.plan_web_grants if args.dry_run else grants.grant_web
        else:
            act = grants.plan_daemon_grants if args.dry_run else grants.grant_daemon
        plan = await act(stores.db, args.role)
        return plan.database, plan.statements

    database, statements = with_stores(config, work)
    for statement in statements:
        print(f"{statement};")
    verb = "would be granted (dry run)" if args.dry_run else "granted"
    who = "web" if args.web else "daemon"
    print(f"-- role {args.role}: {who} privileges on database {database} {verb}")
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    dry_run: bool = args.dry_run

    async def work(stores: Stores) -> tuple[str, str, UpgradeResult, int]:
        db = stores.db
        result = await db.upgrade_schema(dry_run=dry_run)
        sealed = 0
        if not dry_run and result.from_version < REGISTER_VERSION <= result.to_version:
            # The register's chain starts here: seal the rows already stored.
            sealed = (await stores.seals.seal_pending()).sealed
        return db.url, db.dialect, result, sealed

    url, dialect, result, sealed = with_stores(config, work)
    if args.json:
        print_json(
            {
                "url": url,
                "backend": dialect,
                "from_version": result.from_version,
                "schema_version": result.to_version,
                "steps": result.steps,
                "dry_run": result.dry_run,
                "ok": True,
            }
        )
    elif not result.steps:
        print(f"{url}: schema version {result.to_version} is current, nothing to do ({dialect})")
    elif result.dry_run:
        print(f"{url}: schema version {result.from_version} ({dialect}); would apply:")
        for name in result.steps:
            print(f"  {name}")
    else:
        for name in result.steps:
            print(f"applied {name}")
        print(
            f"{url}: upgraded from schema version {result.from_version} "
            f"to {result.to_version} ({dialect})"
        )
        if sealed:
            print(f"sealed the {sealed} row(s) already in the register (docs/REGISTER.md)")
    return 0
