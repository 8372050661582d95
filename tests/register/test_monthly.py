"""`clock-gateway register monthly` (issue 22 item 7): one PDF and one xlsx per worker
and month, Spanish and English; the PDF's text, read back with pdftotext, holds the
worker's name, every day's times, pauses, net time and class, the totals by class,
the corrections and the chain head at issue."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from openpyxl import load_workbook

from gateway.errors import ExitCode
from tests.register.support import existing_person
from tests.reports.test_worktime_db import _cli, _fill
from tests.store.support import open_stores


def _pdf_lines(path: Path) -> list[str]:
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [" ".join(line.split()) for line in done.stdout.splitlines()]


async def test_the_monthly_summary_of_a_part_time_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    await _fill(url)
    async with open_stores(url) as stores:
        await existing_person(stores, "bob", "Bob")  # no day this month
    cli = _cli(tmp_path, url)
    cli("register", "seal")
    head = cli("register", "head")[0].strip()
    out = tmp_path / "monthly"
    printed, _ = cli("register", "monthly", "--month", "2026-11", "--out", str(out), "--json")
    assert json.loads(printed)["files"] == ["2026-11_ana.pdf", "2026-11_ana.xlsx"]

    lines = _pdf_lines(out / "2026-11_ana.pdf")
    assert "Trabajador(a) / Worker: Ana García (ana)" in lines
    assert any("tiempo parcial / part time 50 % (20 h/semana-week)" in line for line in lines)
    assert "2026-11-02 | 09:00 | 14:20 | 11:00-11:20 | 5:00 | 5:00 | 0:00 | 0:00 |" in lines, lines
    for day in ("03", "04", "05"):
        assert f"2026-11-{day} | 09:00 | 14:00 | | 5:00 | 5:00 | 0:00 | 0:00 |" in lines
    assert (
        "2026-11-06 | 09:00 | 12:00 | | 3:00 | 0:00 | 0:00 | 3:00 | complementary corrected"
        in lines
    )
    assert "Neto / Net: 23:00" in lines and "Ordinarias / Ordinary: 20:00" in lines
    assert "Complementarias / Complementary: 3:00" in lines
    assert any(
        line.startswith("1 | add | out | 2026-11-06 12:00 | card forgotten | rrhh | ")
        for line in lines
    ), lines
    assert f"Sello del registro al emitir / Register chain head at issue: {head}" in " ".join(lines)

    book = load_workbook(out / "2026-11_ana.xlsx", read_only=True)
    days = list(book["dias-days"].iter_rows(values_only=True))
    assert days[0][0] == "Día / Day" and len(days) == 6
    assert days[5][:5] == ("2026-11-06", "09:00", "12:00", None, "3:00")

    # Named people get a summary even for an empty month; bad input is one line.
    empty = tmp_path / "bob"
    cli("register", "monthly", "--month", "2026-11", "--person", "bob", "--out", str(empty))
    assert "Neto / Net: 0:00" in _pdf_lines(empty / "2026-11_bob.pdf")
    for args, code in (
        (["--month", "2026-13"], ExitCode.BAD_INPUT),
        (["--month", "2026-11", "--person", "ghost"], ExitCode.NOT_FOUND),
    ):
        target = tmp_path / "never"
        cli("register", "monthly", *args, "--out", str(target), code=code)
        assert not target.exists()
    _, err = cli(
        "register", "monthly", "--month", "2026-11", "--out", str(out), code=ExitCode.BAD_INPUT
    )
    assert "not an empty directory" in err
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".never")] == []
