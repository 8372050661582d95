"""`clock-gateway register export`: the manifest verifies with sha256sum -c, its head
is the register's, tampering is caught, and bad input is one line and no files."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.errors import ExitCode
from tests.register.support import fill
from tests.register.test_cli import Cli
from tests.store.support import open_stores


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
    # The PDF read back with a standard tool (poppler's pdftotext, in .ci/install-tools):
    # the worker, the day's times as the CSV has them, and the chain head.
    text = subprocess.run(
        ["pdftotext", "-layout", str(out / "register.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Ana Garc" in text and head.split(":")[0] in text
    ana = [row for row in (out / "days.csv").read_text().splitlines() if "Ana Garc" in row]
    assert ana
    for row in ana:
        for cell in row.split(","):
            if len(cell) == 5 and cell[2] == ":":  # an HH:MM start, end or total
                assert cell in text, (cell, text)
    with (out / "days.csv").open("a") as f:
        f.write("x\n")
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True)
    assert check.returncode != 0


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
