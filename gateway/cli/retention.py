"""`clock-gateway events purge`: delete the register past its legal retention period.

Run daily by systemd/clock-gateway-purge.timer. What goes and why is in
gateway/store/retention.py: the oldest part of the chain, rows and seals, leaving a
checkpoint seal and an audit row; with nothing old enough it deletes nothing and
still leaves its audit row (the record that the retention job ran).
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.envfile import ENV_ADMIN_DATABASE_URL
from gateway.cli.oneshot import with_stores
from gateway.config import ENV_DATABASE_URL, RETENTION_BY_JURISDICTION
from gateway.errors import InvalidInputError
from gateway.store.audit import Actor
from gateway.store.retention import PurgeResult
from gateway.store.stores import Stores


def add_purge_action(sub: Any) -> None:
    laws = ", ".join(f"{k} {v}" for k, v in RETENTION_BY_JURISDICTION.items())
    purge = sub.add_parser(
        "purge",
        help="delete the register's rows older than the retention period",
        description="Delete the clock events, corrections and audit rows older than N "
        "years, with their seals, leaving a checkpoint seal so that the rest of the "
        "register still verifies (docs/REGISTER.md). N defaults to register.retention_years "
        f"and cannot be below the legal minimum of register.jurisdiction (years: {laws}). "
        "systemd's clock-gateway-purge.timer runs it daily.",
    )
    purge.add_argument("--older-than", type=int, metavar="YEARS", help="retention in years")
    purge.add_argument("--dry-run", action="store_true", help="only say what would go")
    add_config_option(purge)
    add_json_option(purge)
    purge.set_defaults(func=_purge)


def cutoff(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _purge(args: argparse.Namespace) -> int:
    # Only the owner's role may delete the register. Under systemd both URLs arrive in
    # the environment (EnvironmentFile=), where the daemon's would otherwise win.
    if admin := os.environ.get(ENV_ADMIN_DATABASE_URL):
        os.environ[ENV_DATABASE_URL] = admin
    config = config_from_args(args)
    register = config.register
    years = register.retention_years if args.older_than is None else args.older_than
    minimum = RETENTION_BY_JURISDICTION[register.jurisdiction]
    if years < minimum:
        raise InvalidInputError(
            f"--older-than {years}: at least {minimum} years (the law of "
            f"{register.jurisdiction} keeps working-time records {minimum} years)"
        )
    before = cutoff(datetime.now(UTC), years)

    async def work(stores: Stores) -> PurgeResult:
        await stores.db.check()
        if args.dry_run:
            return await stores.retention.plan(before)
        return await stores.retention.purge(before, Actor.cli())

    result = with_stores(config, work)
    if args.json:
        print_json(
            {
                "before": before.isoformat(),
                "dry_run": args.dry_run,
                "through_seq": result.through_seq,
                "events": result.events,
                "corrections": result.corrections,
                "audit": result.audit,
                "seals": result.seals,
                "missing": result.missing,
                "people": result.people,
            }
        )
        return 0
    what = (
        f"{result.events} event(s), {result.corrections} correction(s) and "
        f"{result.audit} audit row(s) older than {before.isoformat(timespec='seconds')}"
    )
    if args.dry_run:
        print(
            f"would delete {what}" + (f" (seals 1..{result.through_seq})" if result.seals else "")
        )
        return 0
    print(f"deleted {what}")
    if result.seals:
        print(f"the chain now starts after seal {result.through_seq} (a checkpoint seal says so)")
    if result.people:
        print(f"erased {result.people} person(s) whose last records went")
    if result.missing:
        print(
            f"warning: {result.missing} of those rows were already gone or altered before the "
            "purge; the checkpoint records it (register verify reports it)"
        )
    return 0
