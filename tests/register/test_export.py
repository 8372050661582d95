"""`clock-gateway register export`: the manifest verifies with sha256sum -c, its head
is the register's, tampering is caught, and bad input is one line and no files."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.domain import Direction
from gateway.errors import ExitCode
from tests.register.support import existing_person, fill
from tests.register.test_cli import Cli
from tests.store.support import event, open_stores


async def test_export_verifies_and_tamper_fails(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    async with open_stores(url) as stores:
        await fill(stores)
    cli = Cli(tmp_path, url)
    cli("register", "seal")
    head = cli("register", "head")[0].strip()
    today = datetime.now(UTC)
    first = (today - timedelta(days=2)).date().isoformat()
    last = (today + timedelta(days=1)).date().isoformat()
    out = tmp_path / "export"
    printed, _ = cli("register", "export", "--from", first, "--to", last, "--out", str(out))
    assert f"chain head: {head}" in printed
    assert (out / "HEAD.txt").read_text().strip() == head
    names = {line.split("  ")[1] for line in (out / "MANIFEST.sha256").read_text().splitlines()}
    assert {"days.csv", "corrections.csv", "months.csv", "register.xlsx", "register.pdf"} <= names
    assert "Ana García" in (out / "days.csv").read_text()
    assert "card forgotten" in (out / "corrections.csv").read_text()
    assert "export" in (cli.state / "register-heads.jsonl").read_text()
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True)
    assert check.returncode == 0, check.stdout
    assert head.split(":")[0] in pdf_text(out)
    with (out / "days.csv").open("a") as f:
        f.write("x\n")
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True)
    assert check.returncode != 0


def pdf_text(out: Path) -> str:
    """The PDF's text as an Inspector's standard tool reads it (poppler-utils is in
    .ci/install-tools, so a missing pdftotext fails here rather than skipping)."""
    assert shutil.which("pdftotext"), "pdftotext missing: run .ci/install-tools"
    done = subprocess.run(
        ["pdftotext", "-layout", str(out / "register.pdf"), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


async def test_pdf_reads_names_times_and_totals(tmp_path: Path) -> None:
    # A fixed day (the zone is UTC by default): in 08:00, out 12:00, in 12:30, out 16:30
    # is 8:00 worked with one pause, and the month's total is the same 8:00.
    url = f"sqlite:///{tmp_path / 'g.db'}"
    day = datetime(2026, 3, 2, tzinfo=UTC)
    taps = [(8, 0, Direction.IN), (12, 0, Direction.OUT), (12, 30, Direction.IN)]
    taps.append((16, 30, Direction.OUT))
    async with open_stores(url) as stores:
        await existing_person(stores, "ana", "Ana García", "04A1B2C3")
        await stores.swipes.record_events(
            [event("ana", at=day.replace(hour=h, minute=m), direction=d) for h, m, d in taps]
        )
    cli = Cli(tmp_path, url)
    cli("register", "seal")
    out = tmp_path / "export"
    cli("register", "export", "--from", "2026-03-01", "--to", "2026-03-31", "--out", str(out))
    lines = [" ".join(line.split()) for line in pdf_text(out).splitlines()]
    assert (
        "ana | Ana García | 2026-03-02 | 2026-03-02 08:00 | 2026-03-02 16:30"
        " | 2026-03-02 12:00-12:30 | 8:00 | 2 |" in lines
    ), lines
    assert "ana | Ana García | 2026-03 | 1 | 8:00" in lines, lines


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], ExitCode.BAD_INPUT),
        (["--from", "2026-03-02", "--to", "2026-03-01"], ExitCode.USAGE),
    ],
)
async def test_bad_input_one_line_nothing_written(
    tmp_path: Path, args: list[str], code: ExitCode
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    async with open_stores(url):
        pass
    cli = Cli(tmp_path, url)
    out = tmp_path / "export"
    cli("register", "export", *args, "--out", str(out), code=code)
    assert not out.exists()


async def test_non_empty_out_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    async with open_stores(url):
        pass
    cli = Cli(tmp_path, url)
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep").write_text("x")
    _, err = cli(
        "register",
        "export",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--out",
        str(out),
        code=ExitCode.BAD_INPUT,
    )
    assert "not an empty directory" in err
    assert sorted(p.name for p in out.iterdir()) == ["keep"]
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".export")] == []
