"""`clock-gateway events purge`: delete events past the legal retention period."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.config import MIN_RETENTION_YEARS
from gateway.store.audit import Actor
from gateway.store.lifecycle import PurgeResult, check_years
from gateway.store.stores import Stores


def add_purge_action(sub: Any) -> None:
    purge = sub.add_parser(
        "purge",
        help="delete events older than the retention period",
        description="Delete clock events (and the corrections about them) received more "
        f"than N years ago. N defaults to web.retention_years (default "
        f"{MIN_RETENTION_YEARS}: Spanish law keeps working-time records {MIN_RETENTION_YEARS} "
        "years) and cannot be lower. Run it from a timer, e.g. monthly.",
    )
    purge.add_argument("--older-than", type=int, metavar="YEARS", help="retention in years")
    purge.add_argument("--dry-run", action="store_true", help="only say where the cut-off falls")
    add_config_option(purge)
    add_json_option(purge)
    purge.set_defaults(func=_purge)


def cutoff(now: datetime, years: int) -> datetime:
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _purge(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    years = config.web.retention_years if args.older_than is None else args.older_than
    check_years(years, MIN_RETENTION_YEARS)
    before = cutoff(datetime.now(UTC), years)
    if args.dry_run:
        print(f"would delete events received before {before.isoformat(timespec='seconds')}")
        return 0

    async def work(stores: Stores) -> PurgeResult:
        return await stores.lifecycle.purge_events(before, Actor.cli())

    result = with_stores(config, work)
    if args.json:
        print_json(
            {
                "before": before.isoformat(),
                "events": result.events,
                "corrections": result.corrections,
            }
        )
    else:
        print(
            f"deleted {result.events} event(s) and {result.corrections} correction(s) "
            f"received before {before.isoformat(timespec='seconds')}"
        )
    return 0
