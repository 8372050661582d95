"""`clock-gateway events export`: incremental export by cursor (event id)."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.cli import argtypes
from gateway.cli.common import add_config_option, add_gateway_option, config_from_args
from gateway.cli.retention import add_purge_action
from gateway.config import Config
from gateway.csvout import csv_writer
from gateway.errors import GatewayError, InvalidInputError
from gateway.reports import render
from gateway.reports.service import DEFAULT_SETTLE, export_events
from gateway.store.stores import Stores


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("events", help="export clock events")
    sub = parser.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    exp = sub.add_parser(
        "export",
        help="events after an id, in id order, for payroll or other systems",
        description=(
            "Prints events with id greater than --since-id in id order (UTC times, plus "
            "the local time). The last id exported goes to stderr ('last-id: N') and, "
            "with --cursor-file, into that file only after all output was written, so "
            "the next run continues where this one stopped."
        ),
    )
    add_config_option(exp)
    exp.add_argument(
        "--since-id",
        type=argtypes.event_id,
        metavar="N",
        help="export events with id > N (default: the cursor file's id, else 0)",
    )
    exp.add_argument(
        "--cursor-file",
        metavar="PATH",
        help="read the starting id from PATH and store the last exported id there",
    )
    exp.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    exp.add_argument("--limit", type=argtypes.count, metavar="N", help="at most N events")
    add_gateway_option(exp)
    exp.add_argument(
        "--settle",
        type=argtypes.seconds(MAX_SETTLE_S),
        default=DEFAULT_SETTLE.total_seconds(),
        metavar="SECONDS",
        help="leave out events stored less than this long ago, so that the cursor never "
        "passes an id a transaction still in flight could fill (default: %(default)g)",
    )
    exp.set_defaults(func=_export)

    add_purge_action(sub)


def read_cursor(path: Path) -> int:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise GatewayError(f"{path}: cannot read the cursor: {exc.strerror}") from None
    try:
        return argtypes.ascii_int(text, lowest=0, highest=argtypes.MAX_ID, what="the cursor")
    except ValueError as exc:
        raise InvalidInputError(f"{path}: {exc} (an event id)") from None


def write_cursor(path: Path, last_id: int) -> None:
    """Atomically: a crash leaves the old cursor or the new one, never half a number."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            out.write(f"{last_id}\n")
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except OSError as exc:
        raise GatewayError(f"{path}: cannot write the cursor: {exc.strerror}") from None


# Output goes out in batches, each written off the event loop (a slow pipe must not
# stall the database reads).
FLUSH_EVERY = 1000
# A settle time longer than a week is a typo, not a policy (and a huge one overflows).
MAX_SETTLE_S = 7 * 86400.0


async def _flush(buffer: io.StringIO) -> None:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    if text:
        await asyncio.to_thread(_emit, text)


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _export(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    cursor = Path(args.cursor_file) if args.cursor_file else None
    since = args.since_id if args.since_id is not None else (read_cursor(cursor) if cursor else 0)
    settle = timedelta(seconds=args.settle)
    last, count = asyncio.run(_write(config, since, args.limit, args.format, settle, args.gateway))
    sys.stdout.flush()
    if cursor is not None:
        write_cursor(cursor, last)
    print(f"last-id: {last} ({count} event(s) exported)", file=sys.stderr)
    return 0


async def _write(
    config: Config,
    since: int,
    limit: int | None,
    fmt: str,
    settle: timedelta,
    gateway: str | None = None,
) -> tuple[int, int]:
    zone = config.zone
    stores = await Stores.open_checked(config.database)  # checks the schema is there
    last, count = since, 0
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    if fmt == "csv":
        writer.writerow(render.EXPORT_COLUMNS)
    try:
        async for event in export_events(stores, since, limit, settle=settle, gateway=gateway):
            row = render.export_row(event, zone)
            if fmt == "csv":
                writer.writerow([row[c] for c in render.EXPORT_COLUMNS])
            else:
                buffer.write(json.dumps(row, ensure_ascii=False) + "\n")
            last, count = event.id, count + 1
            if count % FLUSH_EVERY == 0:
                await _flush(buffer)
        await _flush(buffer)
    finally:
        await stores.close()
    return last, count
