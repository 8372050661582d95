"""Monthly summaries of 200 workers (issue 22 item 7: under 20 s on this machine),
against building the day report the summaries start from.

`python -m bench --only monthly` (or `python -m bench.monthly`). The data set is
bench.reports' generator (mornings, evenings, night shifts, breaks, forgotten
clock-outs) over the month and the 17 weeks before it that the 48-hour average
reads, on SQLite. Rows:

- monthly: `monthly_summaries` for everyone plus writing every worker's PDF (fpdf2)
  and xlsx, as `clock-gateway register monthly` does. Floor: `build_report` over the
  same span (the read and the pairing), so the ratio is the price of the working-time
  rules and the documents on top.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.reports import ZONE, _seed, generate
from gateway.cli.register_monthly import write_pdf
from gateway.config.worktime import WorkTimeRules
from gateway.documents.export_files import write_xlsx
from gateway.reports.monthly import monthly_summaries
from gateway.reports.rules import Rules
from gateway.reports.service import build_report
from gateway.reports.worktime import history_start
from gateway.store.stores import Stores

PEOPLE = 200
MONTH = "2025-11"
TARGET_S = 20.0


async def _measure(people: int, quick: bool) -> list[dict[str, Any]]:
    first, last = date(2025, 11, 1), date(2025, 11, 30)
    rules, worktime = Rules(zone=ZONE), WorkTimeRules()
    since = history_start(first, worktime)
    entries, events = generate(people, since, last)
    tmp = Path(tempfile.mkdtemp(prefix="bench-monthly-"))
    stores = Stores.open(f"sqlite:///{tmp / 'bench.db'}")
    try:
        await _seed(stores, people, entries, events)
        now = datetime(2026, 1, 15, tzinfo=UTC)
        started = time.perf_counter()
        await build_report(stores, rules, since, last, now=now)
        floor_s = time.perf_counter() - started
        started = time.perf_counter()
        summaries = await monthly_summaries(stores, rules, worktime, MONTH, now=now)
        out = tmp / "out"
        out.mkdir()
        for s in summaries:
            write_pdf(out / f"{s.file_stem}.pdf", s)
            write_xlsx(out / f"{s.file_stem}.xlsx", s.sheets())
        monthly_s = time.perf_counter() - started
    finally:
        await stores.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return [
        {
            "name": f"monthly sqlite: {len(summaries)} workers' PDF + xlsx for {MONTH}",
            "value": monthly_s,
            "unit": "s",
            "floor": floor_s,
            "ratio": monthly_s / floor_s if floor_s > 0 else None,
            "target": f"< {TARGET_S:g} s",
            "met": monthly_s < TARGET_S,
            "note": f"{len(events):,} events from {since}; floor: build_report over the span",
        }
    ]


async def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows {name, value, unit, floor, ratio, target, met} for bench/__main__.py."""
    return await _measure(20 if quick else PEOPLE, quick)


if __name__ == "__main__":
    for found in asyncio.run(run()):
        print(found)
