"""`register monthly` for 200 workers over one month (issue 22 item 7: under 20 s).

`python -m bench --only monthly` (or `python -m bench.monthly`). The month (March
2025, with its DST change) of the 200-person lab of bench.reports is generated
deterministically and stored in batches on SQLite; then what `clock-gateway register
monthly --month 2025-03 --out DIR` does is timed: every worker's summary
(monthly_summaries: build_worktime, corrections, chain head) and its PDF and xlsx
written (monthly_files.write_summaries with the CLI's xlsx writer). Rows:

- monthly: the whole run, target under 20 s. Floor: writing the same number of
  one-line PDFs with fpdf2 and one-row xlsx files (gateway.documents) into a directory: the
  document libraries' fixed price per worker, which no summary can go below.
- monthly, figures only: monthly_summaries alone. Floor: reading the month's rows
  with the report's one query (EventStore.swipes_between).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from fpdf import FPDF

from bench.reports import ZONE, _seed, generate
from gateway.config.worktime import WorkTimeRules
from gateway.documents.export_files import write_xlsx
from gateway.reports.monthly import Summary, monthly_summaries
from gateway.reports.monthly_files import write_summaries
from gateway.reports.rules import Rules
from gateway.store.stores import Stores

PEOPLE = 200
MONTH = "2025-03"
FIRST, LAST = date(2025, 3, 1), date(2025, 3, 31)
TARGET_S = 20.0


def _minimal_files(directory: Path, count: int) -> None:
    for i in range(count):
        pdf = FPDF(orientation="L", unit="mm", format="A4")
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 4, f"worker {i}")
        pdf.output(str(directory / f"{i}.pdf"))
        write_xlsx(directory / f"{i}.xlsx", [("s", ["a"], [[i]])])


async def _measure(workdir: Path, people: int) -> list[dict[str, Any]]:
    entries, events = generate(people, FIRST, LAST)
    rules = Rules(zone=ZONE)
    worktime = WorkTimeRules()
    stores = Stores.open(f"sqlite:///{workdir / 'monthly.db'}")
    try:
        await _seed(stores, people, entries, events)
        now = datetime(2025, 4, 2, 9, tzinfo=UTC)

        floor_dir = workdir / "floor"
        floor_dir.mkdir()
        started = time.perf_counter()
        await asyncio.to_thread(_minimal_files, floor_dir, people)
        files_floor = time.perf_counter() - started

        start = datetime.combine(FIRST, clock_time(0), tzinfo=ZONE) - rules.max_session
        end = datetime.combine(LAST + timedelta(days=1), clock_time(0), tzinfo=ZONE)
        started = time.perf_counter()
        async for _ in stores.events.swipes_between(start, end + rules.max_session):
            pass
        read_floor = time.perf_counter() - started

        out = workdir / "out"
        out.mkdir()
        started = time.perf_counter()
        summaries: list[Summary] = await monthly_summaries(stores, rules, worktime, MONTH, now=now)
        figures_s = time.perf_counter() - started
        write_summaries(out, summaries, write_xlsx)
        total_s = time.perf_counter() - started
        files = len(list(out.iterdir()))
    finally:
        await stores.close()
    what = f"{people} workers, {MONTH}, {len(events):,} taps"
    return [
        {
            "name": f"monthly: register monthly, {what}",
            "value": total_s,
            "unit": "s",
            "floor": files_floor,
            "ratio": total_s / files_floor if files_floor > 0 else None,
            "target": f"< {TARGET_S:g} s",
            "met": total_s < TARGET_S,
            "note": f"{len(summaries)} summaries, {files} files; floor: {people} one-line "
            "PDFs (fpdf2) and xlsx (gateway.documents)",
        },
        {
            "name": "monthly: figures only (monthly_summaries)",
            "value": figures_s,
            "unit": "s",
            "floor": read_floor,
            "ratio": figures_s / read_floor if read_floor > 0 else None,
            "note": "floor: the month's rows read with swipes_between",
        },
    ]


async def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows {name, value, unit, floor, ratio, target, met} for bench/__main__.py."""
    workdir = Path(tempfile.mkdtemp(prefix="clock-gateway-bench-monthly-"))
    try:
        return await _measure(workdir, 20 if quick else PEOPLE)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    import sys

    from gateway.logs import configure_logging

    configure_logging("warning", json=False)
    for r in asyncio.run(run(quick="--quick" in sys.argv[1:])):
        floor = "" if r["floor"] is None else f"  floor {r['floor']:.3f}  x{r['ratio']:.2f}"
        print(f"{r['name']}: {r['value']:,.3f} {r['unit']}{floor}")


if __name__ == "__main__":
    main()
