"""Importing the original's grid sheet through the CLI, then asking `who` about it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.errors import ExitCode
from gateway.reports.rules import Rules
from gateway.reports.service import presence
from gateway.store.stores import Stores
from tests.support.grid_sheet import EMPTY_SLOT, SLOTS, make_sheet, parse_hm, write_xls, write_xlsx

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Europe/Madrid")
MONDAY = date(2026, 11, 23)


def cli(tmp_path: Path, url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text('[gateway]\ntimezone = "Europe/Madrid"\n')
    env = {**os.environ, "CLOCK_GATEWAY_CONFIG": str(config), "CLOCK_GATEWAY_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == code, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    return done


async def _state(url: str) -> tuple[int, int]:
    stores = await Stores.open_checked(url)
    try:
        return len(await stores.people.people()), len(await stores.timetable.timetable())
    finally:
        await stores.close()


def state(url: str) -> tuple[int, int]:
    return asyncio.run(_state(url))


async def _who_everywhere(url: str) -> dict[tuple[int, int], dict[str, str]]:
    """name -> room of everyone `who` lists at the middle of each weekday and slot."""
    stores = await Stores.open_checked(url)
    rules = Rules(zone=ZONE)
    seen = {}
    try:
        for weekday in range(1, 6):
            day = MONDAY + timedelta(days=weekday - 1)
            for slot, (start, _) in enumerate(SLOTS):
                local = datetime.combine(day, parse_hm(start), tzinfo=ZONE) + timedelta(minutes=30)
                report = await presence(stores, rules, local.astimezone(UTC))
                seen[(weekday, slot)] = {row.name: row.room for row in report.scheduled}
    finally:
        await stores.close()
    return seen


def test_a_sheet_of_300_people_imports_and_who_matches_it(tmp_path: Path, db_url: str) -> None:
    cli(tmp_path, db_url, "db", "init")
    cli(tmp_path, db_url, "users", "add", "luis", "Luis Pérez")
    sheet = make_sheet(300)
    path = write_xls(sheet, tmp_path / "horario.xls")

    # Unknown people are errors, every one listed, and nothing is written.
    done = cli(tmp_path, db_url, "timetable", "import", str(path), code=ExitCode.BAD_INPUT)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 301
    assert lines[0] == (
        f"{path}:3: no person named 'García López, Ana (AGL)' "
        "(add them, or import with --create-people)"
    )
    assert lines[-1].endswith("300 bad row(s); nothing was imported")
    dry = cli(tmp_path, db_url, "timetable", "import", str(path), "--create-people", "--dry-run")
    assert "would create 300 person(s)" in dry.stdout
    assert state(db_url) == (1, 0)

    done = cli(tmp_path, db_url, "timetable", "import", str(path), "--create-people", "--json")
    summary = json.loads(done.stdout)
    assert summary["layout"] == "grid" and summary["ok"] and summary["rows"] == len(sheet.cells)
    assert len(summary["created"]) == 300 and summary["skipped_slots"] == 5
    created = {c["name"]: c["uid"] for c in summary["created"]}
    assert created["García López, Ana (AGL)"] == "ana.garcia.lopez"
    assert created["Garcia Lopez, Ana (AGL2)"] == "ana.garcia.lopez-2"
    assert state(db_url) == (301, len(sheet.cells))

    seen = asyncio.run(_who_everywhere(db_url))
    for weekday in range(1, 6):
        for slot in range(len(SLOTS)):
            assert seen[(weekday, slot)] == sheet.expected(weekday, slot), (weekday, slot)
    assert seen[(1, EMPTY_SLOT)] == {}

    # The same sheet again, as .xlsx this time: the same people, nothing changes.
    again = write_xlsx(sheet, tmp_path / "horario.xlsx")
    done = cli(tmp_path, db_url, "timetable", "import", str(again), "--create-people", "--json")
    summary = json.loads(done.stdout)
    assert summary["created"] == [] and summary["changed"] == 0 and summary["people"] == 300
    assert state(db_url) == (301, len(sheet.cells))


def test_a_bad_sheet_gives_one_line_per_problem_and_writes_nothing(tmp_path: Path) -> None:
    import openpyxl

    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    cli(tmp_path, url, "db", "init")
    book = openpyxl.Workbook()
    ws = book.active
    for row in (
        ["", "Lunes", None, "Funday"],
        ["", "8:15\n9:15", "8:30\n9:30", "8:15\n9:15"],
        ["Pérez, Luis (LP)", "Mates\n1ESOA\nAula 1", None, "x"],
        [None, "Aula 9"],
    ):
        ws.append(row)
    path = tmp_path / "bad.xlsx"
    book.save(path)
    done = cli(
        tmp_path, url, "timetable", "import", str(path), "--create-people", code=ExitCode.BAD_INPUT
    )
    assert done.stderr.splitlines() == [
        f"{path}:1: cell D1: 'Funday' is not a weekday name",
        f"{path}:2: cell C2: Mon 8:30-9:30 overlaps B2 (8:15-9:15)",
        f"{path}:4: entries but no name in column A",
        f"clock-gateway: error: {path}: 3 bad row(s); nothing was imported",
    ]
    assert state(url) == (0, 0)
    broken = tmp_path / "broken.xls"
    broken.write_bytes(b"not a spreadsheet at all")
    done = cli(tmp_path, url, "timetable", "import", str(broken), code=ExitCode.BAD_INPUT)
    assert len(done.stderr.strip().splitlines()) == 1
    assert "not a readable .xls file" in done.stderr
