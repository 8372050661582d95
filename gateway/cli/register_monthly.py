"""`clock-gateway register monthly`: each worker's monthly summary as a PDF and an
xlsx, in Spanish and English (gateway/reports/monthly.py has the content)."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fpdf import FPDF

from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.cli.oneshot import with_stores
from gateway.cli.report import rules_from_args
from gateway.documents.export_files import write_xlsx
from gateway.reports.export import check_target
from gateway.reports.monthly import TITLE, Summary, month_range, monthly_summaries
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


def _latin(value: Any) -> str:
    # The core fonts are Latin-1 (Spanish fits); anything else stays readable as '?'.
    return str("" if value is None else value).encode("latin-1", "replace").decode("latin-1")


def write_pdf(path: Path, s: Summary) -> None:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_page()

    def line(text: str, size: int = 8) -> None:
        pdf.set_font("Helvetica", size=size)
        pdf.multi_cell(0, 4 if size < 10 else 7, _latin(text), new_x="LMARGIN", new_y="NEXT")

    line(TITLE, 12)
    line(f"Trabajador(a) / Worker: {s.name} ({s.uid})", 10)
    line(f"Mes / Month: {s.month}", 10)
    for regime in s.regime:
        line(f"Régimen / Regime: {regime}")
    line("")
    for row in [s.sheets()[0][1], *s.days]:
        line(" | ".join(str(c) for c in row), 7)
    line("")
    line("Totales del mes / Month totals", 10)
    for label, value in s.totals:
        line(f"{label}: {value}")
    line("")
    line("Correcciones / Corrections", 10)
    if not s.corrections:
        line("ninguna / none")
    for row in s.corrections:
        line(" | ".join(str(c) for c in row), 7)
    if s.flags:
        line("")
        line("Avisos / Flags", 10)
        for flag in s.flags:
            line(flag)
    line("")
    line(f"Emitido / Issued: {s.issued}")
    line(f"Sello del registro al emitir / Register chain head at issue: {s.head}", 7)
    pdf.output(str(path))


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
        for s in summaries:
            write_pdf(staging / f"{s.file_stem}.pdf", s)
            write_xlsx(staging / f"{s.file_stem}.xlsx", s.sheets())
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
