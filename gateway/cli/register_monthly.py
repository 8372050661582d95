"""`clock-gateway register monthly`: each worker's monthly summary as a PDF and an
xlsx, in Spanish and English (gateway/reports/monthly.py has the content)."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.cli.report import rules_from_args
from gateway.documents.export_files import write_xlsx
from gateway.reports.export import check_target
from gateway.reports.monthly import Summary, month_range, monthly_summaries
from gateway.reports.monthly_files import write_summaries
from gateway.reports.rules import DEFAULT_MAX_SESSION
from gateway.store.stores import Stores


def add_monthly(sub: Any) -> None:
    monthly = sub.add_parser(
        "monthly",
        help="each worker's monthly summary (PDF and xlsx, Spanish and English)",
        description="Write one PDF and one xlsx per worker for a month to a new directory: "
        "each day's start, end, pauses, net time and class, the month's totals by class, "
        "the regime, the corrections, the flags and the register's chain head.",
    )
    monthly.add_argument("--month", required=True, metavar="YYYY-MM")
    monthly.add_argument("--person", action="append", default=[], metavar="UID")
    monthly.add_argument("--out", required=True, metavar="DIR")
    add_config_option(monthly)
    add_json_option(monthly)
    monthly.set_defaults(func=_monthly)


def _monthly(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    rules = rules_from_args(config, DEFAULT_MAX_SESSION.total_seconds() / 3600)
    month_range(args.month)  # a bad month is one line before anything else
    out = Path(args.out).absolute()
    check_target(out)

    async def work(stores: Stores) -> list[Summary]:
        return await monthly_summaries(
            stores, rules, config.register.worktime, args.month.strip(), args.person
        )

    summaries = with_stores(config, work)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_summaries(staging, summaries, write_xlsx)
        os.chmod(staging, 0o755)
        if out.exists():
            out.rmdir()  # empty (checked): rename needs it gone
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p.name for p in out.iterdir())
    if args.json:
        print_json({"out": str(out), "files": files, "workers": len(summaries)})
    else:
        print(f"{out}: {len(summaries)} worker(s), {len(files)} file(s)")
    return 0
