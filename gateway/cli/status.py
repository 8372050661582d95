"""`clock-gateway status`: what the running daemon is doing, from its status file.

Exit codes: 0 the daemon is running; 1 its process exists but has not updated the
status file for a while (stuck); 4 it is not running (never started here, stopped,
or gone), in which case the last state it wrote is still shown.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.cli.common import (
    add_config_option,
    add_json_option,
    config_from_args,
    print_json,
    print_table,
)
from gateway.errors import ExitCode
from gateway.status import (
    STALE_AFTER_S,
    DaemonState,
    StatusSnapshot,
    daemon_state,
    read_status,
    status_age,
    status_path,
    to_json,
)

_EXIT = {
    DaemonState.RUNNING: ExitCode.OK,
    DaemonState.NOT_RESPONDING: ExitCode.FAILURE,
    DaemonState.STOPPED: ExitCode.NOT_FOUND,
    DaemonState.GONE: ExitCode.NOT_FOUND,
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show the running daemon's readers, spool and database state",
        description="Show the daemon's readers (link state, last swipe), the number of "
        "swipes waiting in the local spool, the last successful database write and the "
        "card directory's age. Exit status: 0 running, 1 not responding, 4 not running.",
    )
    add_config_option(parser)
    add_json_option(parser)
    parser.add_argument(
        "--all",
        action="store_true",
        help="every gateway of the fleet, from the central database's gateways table "
        "(exit 1 if one is silent for longer than fleet.silent_after_s)",
    )
    parser.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    if args.all:
        from gateway.cli.fleet_status import status_all

        return status_all(args)
    config = config_from_args(args)
    path = status_path(config.state_dir)
    snapshot = read_status(config.state_dir)
    if snapshot is None:
        if args.json:
            print_json({"state": "not_running", "status_file": str(path), "status": None})
        else:
            print(f"clock-gateway is not running (no status file {path})")
        return int(ExitCode.NOT_FOUND)
    now = datetime.now(UTC)
    state = daemon_state(snapshot, now)
    if args.json:
        print_json({"state": state.value, "status_file": str(path), "status": to_json(snapshot)})
    else:
        _print(snapshot, state, now, config.zone)
    return int(_EXIT[state])


def _print(snap: StatusSnapshot, state: DaemonState, now: datetime, zone: ZoneInfo) -> None:
    updated = _span_s(status_age(snap, now))  # monotonic: immune to clock steps
    if state is DaemonState.RUNNING:
        print(f"clock-gateway is running (pid {snap.pid}, up {_span(now - snap.started_at)})")
    elif state is DaemonState.NOT_RESPONDING:
        print(
            f"clock-gateway is NOT RESPONDING: pid {snap.pid} is alive but has not updated "
            f"its status for {updated} (more than {STALE_AFTER_S:g} s)"
        )
    elif state is DaemonState.STOPPED:
        print(f"clock-gateway is not running: stopped at {_local(snap.stopped_at, zone)}")
    else:
        print(
            f"clock-gateway is not running: pid {snap.pid} is gone "
            f"(crashed or killed; last update {updated} ago). Last known state:"
        )
    db = "ok" if snap.database_ok else "UNAVAILABLE"
    last = (
        f"{_local(snap.last_db_write_at, zone)} ({_ago(snap.last_db_write_at, now)} ago)"
        if snap.last_db_write_at
        else "none since start"
    )
    print(f"database:   {db}; last write {last}")
    spool = f"{snap.spool_depth} swipe(s) waiting for the database"
    if snap.spool_max:
        spool += f" (max {snap.spool_max})"
    if snap.dead_letters:
        spool += f"; {snap.dead_letters} refused by the database (see spool/dead-letter.jsonl)"
    if snap.spool_error:
        # Loud: swipes the database cannot take are refused (KO) until a restart.
        spool = f"UNUSABLE ({snap.spool_error}): swipes are KO while the database is away; {spool}"
    print(f"spool:      {spool}")
    age = (
        "never refreshed"
        if snap.directory_age_s is None
        else f"refreshed {_span_s(snap.directory_age_s)} ago"
    )
    print(f"directory:  {snap.directory_cards} card(s), {age}")
    if snap.register is not None:
        print(f"register:   {_register_line(snap, now, zone)}")
    if not snap.readers:
        print("readers:    none")
        return
    rows = [
        (
            r.name,
            r.role,
            r.port,
            r.link_state,
            _local(r.since, zone),
            r.hardware_id,
            r.firmware,
            f"{_local(r.last_swipe_at, zone)} {r.last_swipe or ''}".strip()
            if r.last_swipe_at
            else None,
        )
        for r in snap.readers
    ]
    print_table(
        ("READER", "ROLE", "PORT", "LINK", "SINCE", "HARDWARE", "FIRMWARE", "LAST SWIPE"), rows
    )


def _register_line(snap: StatusSnapshot, now: datetime, zone: ZoneInfo) -> str:
    """The sealer's backlog: rows stored and not sealed yet, and its last full round."""
    reg = snap.register
    assert reg is not None
    line = f"{reg.unsealed} row(s) waiting to be sealed"
    if reg.sealed_at is not None:
        line += f"; all sealed at {_local(reg.sealed_at, zone)} ({_ago(reg.sealed_at, now)} ago)"
    else:
        line += "; no sealing round finished yet"
    if reg.head_seq is not None:
        line += f"; chain at seal {reg.head_seq}"
    if reg.error:
        line += f"; LAST ROUND FAILED: {reg.error}"
    return line


def _local(stamp: datetime | None, zone: ZoneInfo) -> str | None:
    if stamp is None:
        return None
    return stamp.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _ago(stamp: datetime | None, now: datetime) -> str:
    return "never" if stamp is None else _span(now - stamp)


def _span(delta: Any) -> str:
    return _span_s(delta.total_seconds())


def _span_s(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
