"""The --trace breakdown: stamps written by gateway.trace, read back by bench.trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.kit.harness import REPO_ROOT
from bench.trace import HOPS, hop_rows, read_swipes


def _write(path: Path, stamps: list[tuple[str, str, int]]) -> None:
    path.write_text("".join(json.dumps({"key": k, "hop": h, "ns": n}) + "\n" for k, h, n in stamps))


def test_only_whole_ordered_swipes_count(tmp_path: Path) -> None:
    whole = [("a", hop, 1_000_000 * i) for i, hop in enumerate(HOPS)]
    spooled = [("b", hop, i) for i, hop in enumerate(HOPS) if hop not in ("sent", "committed")]
    retransmitted = [("c", hop, i) for i, hop in enumerate(HOPS)] + [("c", "read", 99)]
    disordered = [("d", hop, -i) for i, hop in enumerate(HOPS)]
    path = tmp_path / "t.jsonl"
    _write(path, whole + spooled + retransmitted + disordered)
    swipes = read_swipes(path)
    assert [s["written"] for s in swipes] == [7_000_000]
    rows = {r["name"]: r["value"] for r in hop_rows("x", path, [0.010])}
    assert rows["x trace: statement sent -> commit returned p50"] == 1.0  # ms
    assert rows["x trace: inside the daemon p50"] == 7.0
    assert rows["x trace: outside the daemon p50"] == 3.0  # 10 ms at the reader


def test_the_process_writes_its_stamps_at_exit(tmp_path: Path) -> None:
    out = tmp_path / "stamps.jsonl"
    code = "from gateway import trace; trace.stamp('k', 'read', 5); trace.stamp('k', 'decoded')"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CLOCK_GATEWAY_TRACE": str(out)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(s["key"], s["hop"]) for s in lines] == [("k", "read"), ("k", "decoded")]
    assert lines[0]["ns"] == 5 and lines[1]["ns"] > 5
    # Off by default: no variable, no file, no stamps kept.
    env.pop("CLOCK_GATEWAY_TRACE")
    code = "from gateway import trace; assert not trace.ON"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
