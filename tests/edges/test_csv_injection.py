"""Issue 13 item 6: no CSV the project writes can carry a live spreadsheet formula."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from gateway.csvout import csv_writer, neutralise

ROOT = Path(__file__).resolve().parents[2]
# OWASP's list: a cell starting with any of these is read as a formula by some spreadsheet.
HOSTILE = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://x")']


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_are_prefixed_with_a_quote(value: str) -> None:
    assert neutralise(value) == "'" + value


def test_plain_values_and_numbers_are_unchanged() -> None:
    for value in ("ana", "Ana García", "", "2026-11-23", "a=b", "1:15", "-1.5", "-2", "-0:15"):
        assert neutralise(value) == value
    assert neutralise(-3) == -3 and neutralise(2.5) == 2.5 and neutralise(None) == ""


def test_the_writer_neutralises_every_cell() -> None:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["=a", "b", "@c"])
    writer.writerows([["+d", 1]])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["'=a", "b", "'@c"], ["'+d", "1"]]


def _cli(url: str, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLOCK_GATEWAY_CONFIG": str(config), "CLOCK_GATEWAY_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_report_and_export_csv_have_no_live_formula(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[gateway]\ntimezone = "UTC"\n')
    db = tmp_path / "clock.db"
    url = f"sqlite:///{db}"
    _cli(url, config, "db", "init")
    people = {"=cmd": '=HYPERLINK("http://evil")', "+uid": "@SUM(1)", "-x": "\t=1", "ok": "-2+3"}
    with sqlite3.connect(db) as conn:
        for i, (uid, name) in enumerate(people.items()):
            conn.execute("INSERT INTO people (uid, name) VALUES (?, ?)", (uid, name))
            for n, (direction, hour) in enumerate((("in", 8), ("out", 9))):
                conn.execute(
                    "INSERT INTO clock_events (event_key, person_uid, card_key, direction,"
                    " reader, reader_hw_id, received_at, stored_at, outcome)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'recorded')",
                    (
                        str(uuid.uuid4()),
                        uid,
                        f"04A1B2{i:02X}",
                        direction,
                        "=reader",
                        "@hw",
                        f"2026-11-23 0{hour}:0{n}:00.000000",
                        "2026-11-23 10:00:00.000000",
                    ),
                )
    report = _cli(url, config, "report", "--from", "2026-11-23", "--format", "csv").stdout
    export = _cli(url, config, "events", "export", "--settle", "0").stdout
    for text in (report, export):
        cells = _cells(text)
        assert any(c.startswith("'=") for c in cells), text  # the hostile values are there
        live = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
        assert live == [], live
        assert not [c for c in cells if c.startswith("-") and not c[1:].replace(".", "").isdigit()]
