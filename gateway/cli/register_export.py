"""`clock-gateway register export`: the Inspector's export (docs/REGISTER.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli.argtypes import add_date_range, date_range
from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.cli.report import rules_from_args
from gateway.documents.export_files import write_documents
from gateway.reports.export import ExportResult, export_and_record, head_text
from gateway.reports.rules import DEFAULT_MAX_SESSION
from gateway.store.audit import Actor
from gateway.store.stores import Stores


def add_export(sub: Any) -> None:
    export = sub.add_parser(
        "export",
        help="the Inspector's export: CSV, xlsx, PDF, a SHA-256 manifest and the chain head",
        description="Write the register over a range to a new directory: per worker per day "
        "the start, end and pauses, the corrections with their trail, daily and monthly "
        "totals, as CSV, xlsx and PDF, with MANIFEST.sha256 (sha256sum -c) and the head.",
    )
    add_date_range(export, required=True)
    export.add_argument("--person", action="append", default=[], metavar="UID")
    export.add_argument("--out", required=True, metavar="DIR")
    add_config_option(export)
    add_json_option(export)
    export.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    rules = rules_from_args(config, DEFAULT_MAX_SESSION.total_seconds() / 3600)
    first, last = date_range(args)
    assert first is not None and last is not None  # both required by argparse
    out = Path(args.out).absolute()

    async def work(stores: Stores) -> ExportResult:
        await stores.db.check()
        return await export_and_record(
            stores,
            rules,
            first,
            last,
            out,
            uids=args.person,
            documents=write_documents,
            worktime_rules=config.register.worktime,
            actor=Actor.cli(),
            state_dir=config.state_dir,
            gateway_id=config.gateway_id,
        )

    result = with_stores(config, work)
    text = "none" if result.head is None else head_text(result.head)
    if args.json:
        print_json({"out": str(out), "files": result.files, "head": text, "days": result.days})
    else:
        print(f"exported {result.days} day(s), {result.corrections} correction(s) to {out}")
        print(f"chain head: {text}")
    return 0
