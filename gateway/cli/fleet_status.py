"""`clock-gateway status --all`: every gateway of the fleet, from the central database.

Each daemon upserts its row in `gateways` every `fleet.heartbeat_s`; a gateway whose
last heartbeat is older than `fleet.silent_after_s` (on the database's clock) is
reported SILENT: stopped, crashed, or cut off from the database (its own spool keeps
its swipes meanwhile). Exit codes: 0 every gateway heard from in time, 1 at least one
silent, 4 no gateway has ever reported.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.cli.common import config_from_args, print_json, print_table
from gateway.errors import ExitCode

if TYPE_CHECKING:
    from gateway.store.gateways import GatewayRow
    from gateway.store.stores import Stores


def status_all(args: argparse.Namespace) -> int:
    from gateway.cli.oneshot import with_stores

    config = config_from_args(args)
    silent_after = config.fleet.silent_after_s

    async def work(stores: Stores) -> list[GatewayRow]:
        return await stores.gateways.all()

    rows = with_stores(config, work)
    silent = [r for r in rows if r.silent_s > silent_after]
    if args.json:
        print_json(
            {
                "silent_after_s": silent_after,
                "gateways": [_json(r, r.silent_s > silent_after) for r in rows],
            }
        )
    else:
        _print(rows, silent_after, config.zone)
    if not rows:
        return int(ExitCode.NOT_FOUND)
    return int(ExitCode.FAILURE if silent else ExitCode.OK)


def _json(row: GatewayRow, silent: bool) -> dict[str, Any]:
    b = row.heartbeat
    return {
        "id": b.id,
        "state": "silent" if silent else "running",
        "silent_s": round(row.silent_s, 1),
        "version": b.version,
        "hostname": b.hostname,
        "started_at": b.started_at.isoformat(),
        "heartbeat_at": row.heartbeat_at.isoformat(),
        "spool_depth": b.spool_depth,
        "last_write_at": None if b.last_write_at is None else b.last_write_at.isoformat(),
        "readers": [r.to_json() for r in b.readers],
    }


def _print(rows: list[GatewayRow], silent_after: float, zone: ZoneInfo) -> None:
    if not rows:
        print("no gateway has reported to this database yet")
        return
    silent = sum(1 for r in rows if r.silent_s > silent_after)
    print(
        f"{len(rows)} gateway(s), {silent} silent for more than {silent_after:g} s"
        if silent
        else f"{len(rows)} gateway(s), all heard from within {silent_after:g} s"
    )
    table = []
    for r in rows:
        b = r.heartbeat
        ready = sum(1 for x in b.readers if x.state == "ready")
        down = [x.name for x in b.readers if x.state != "ready"]
        table.append(
            (
                b.id,
                "SILENT" if r.silent_s > silent_after else "running",
                f"{r.silent_s:.0f} s ago",
                b.hostname,
                b.version,
                f"{ready}/{len(b.readers)}" + (f" ({', '.join(down)} not ready)" if down else ""),
                b.spool_depth,
                _local(b.last_write_at, zone),
            )
        )
    print_table(
        (
            "GATEWAY",
            "STATE",
            "HEARTBEAT",
            "HOST",
            "VERSION",
            "READERS READY",
            "SPOOL",
            "LAST WRITE",
        ),
        table,
    )


def _local(stamp: datetime | None, zone: ZoneInfo) -> str | None:
    return None if stamp is None else stamp.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
