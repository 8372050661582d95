"""`python -m bench`: options, the table and the JSON results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import parse_args, print_table
from bench.machine import REPO, describe
from bench.registry import NAMES
from bench.rows import row


def test_only_accepts_known_names_repeated_or_comma_separated() -> None:
    assert parse_args([]).selected == list(NAMES)
    args = parse_args(["--only", "latency,throughput", "--only", "scale"])
    assert args.selected == ["latency", "throughput", "scale"]
    with pytest.raises(SystemExit) as exc:
        parse_args(["--only", "nosuch"])
    assert exc.value.code == 2


def test_table_has_every_column_and_the_notes(capsys: pytest.CaptureFixture[str]) -> None:
    r = row("latency p50", 2.5, "ms", floor=1.0, target="ratio <= 1.3", met=False, note="why")
    print_table([r, {"name": "decoder", "value": 12.0, "unit": "MB/s", "floor": None}])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "value", "unit", "floor", "ratio", "target", "met?"]
    assert "2.50x" in out[2] and "NO" in out[2] and "ratio <= 1.3" in out[2]
    assert "MB/s" in out[3]
    assert out[-1].strip() == "latency p50: why"


def test_machine_description() -> None:
    info = describe()
    assert info["nproc"] >= 1 and info["cpu_model"] and info["date"].startswith("20")
    assert info["commit"]  # the tests run in the git checkout


def test_cli_writes_json_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    # The decoder benchmark needs no database and is quick; if it is not there yet the
    # runner still prints the (empty) table and records that it was absent.
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "decoder", "--output", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["quick"] is True and data["machine"]["nproc"] >= 1
    assert [r["name"] for r in data["runs"]] == ["decoder"]
    assert "name" in done.stdout and "met?" in done.stdout
    for r in data["rows"]:
        assert r["benchmark"] == "decoder" and r["value"] is not None


def test_markdown_rendering_of_results() -> None:
    from bench.markdown import render

    results = {
        "machine": describe() | {"total_seconds": 1.0},
        "quick": True,
        "runs": [{"name": "latency", "status": "ok", "seconds": 1.0}],
        "rows": [row("latency p50", 2.0, "ms", floor=1.0, target="ratio <= 1.3", met=False)],
    }
    text = render(results)
    assert "| latency p50 | 2.00 | ms | 1.00 | 2.00x | ratio <= 1.3 | NO |" in text
    assert "latency 1.0 s (ok)" in text
