"""The SQLite latency benchmark at its --quick size: registered, every swipe answered
and stored, each latency next to its floor, and the trace's hops when asked."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.latency_sqlite import run
from bench.registry import NAMES


def test_registered() -> None:
    assert "latency_sqlite" in NAMES


def test_quick_run_with_a_trace(tmp_path: Path) -> None:
    # The real daemon on a SQLite file and two emulated readers: seconds.
    rows = {r["name"]: r for r in asyncio.run(run(quick=True, trace_dir=tmp_path))}
    for q in ("p50", "p99", "max"):
        r = rows[f"latency sqlite {q}"]
        assert r["value"] > 0 and r["floor"] > 0 and r["ratio"] == r["value"] / r["floor"]
    assert rows["latency sqlite swipes answered OK"]["met"] is True
    assert rows["latency sqlite floor part: INSERT+COMMIT p50"]["value"] > 0
    # The SQLite writer stamps its statement and its commit like PostgreSQL's.
    sent = rows["latency sqlite trace: statement sent -> commit returned p50"]
    assert sent["value"] > 0
