"""Each gateway benchmark runs in its --quick configuration and returns sane rows.

Not timed and no targets asserted (performance belongs in bench/, not in tests): the
point is that the machinery works end to end against the real daemon, emulator and
PostgreSQL, so that `make bench` does not rot between the runs somebody looks at.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest

from bench.board import run_board
from bench.env import BenchEnv, create_env
from bench.fleet import run_fleet
from bench.latency import run_latency, run_offline
from bench.registry import GatewayBench
from bench.replug import run_replug
from bench.rows import Row
from bench.scale import run_scale
from bench.throughput import run_throughput

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@pytest.fixture(scope="module")
def env() -> Iterator[BenchEnv]:
    environment = asyncio.run(create_env(100, durable=False))
    try:
        yield environment
    finally:
        environment.destroy()


def _check(rows: list[Row]) -> dict[str, Row]:
    assert rows
    for r in rows:
        assert r["name"] and isinstance(r["unit"], str)
        assert isinstance(r["value"], int | float) and math.isfinite(r["value"]), r
        assert r["value"] >= 0, r
        if r["floor"] is not None:
            assert r["floor"] > 0 and r["ratio"] == pytest.approx(r["value"] / r["floor"])
        assert r["met"] in (True, False, None)
    return {r["name"]: r for r in rows}


def _run(bench: GatewayBench, env: BenchEnv) -> dict[str, Row]:
    async def go() -> list[Row]:
        return await bench(env, True)

    return _check(asyncio.run(go()))


def test_latency(env: BenchEnv) -> None:
    rows = _run(run_latency, env)
    assert rows["latency swipes answered OK"]["met"] is True  # every swipe OK and stored
    assert rows["latency p50"]["value"] <= rows["latency p99"]["value"]
    assert rows["latency p99"]["value"] <= rows["latency max"]["value"]
    assert rows["latency SQL statements per swipe"]["value"] >= 1


def test_throughput(env: BenchEnv) -> None:
    rows = _run(run_throughput, env)
    main = rows["throughput, 8 readers"]
    assert main["value"] > 0 and main["floor"] > 0


def test_replug(env: BenchEnv) -> None:
    rows = _run(run_replug, env)
    assert "replugs" in rows["replug: other reader's p99"]["note"]


def test_scale(env: BenchEnv) -> None:
    rows = _run(run_scale, env)
    assert 0 < rows["8 idle readers: daemon peak RSS"]["value"] < 10_000
    assert rows["8 readers: online"]["value"] == 8


def test_fleet(env: BenchEnv) -> None:
    rows = _run(run_fleet, env)
    for name in ("fleet, 1 gateway x 4 readers", "fleet, 2 gateways x 4 readers"):
        assert rows[name]["value"] > 0 and rows[name]["floor"] > 0
        assert rows[name]["met"] is not False, rows[name]["note"]  # every OK stored
        assert rows[f"{name}: DB sessions per gateway, idle"]["value"] >= 1


def test_board(env: BenchEnv) -> None:
    rows = _run(run_board, env)
    for boards in ("1 board", "100 boards"):
        assert rows[f"tap-to-board p50, {boards}"]["value"] > 0
    assert rows["web CPU, 100 idle boards"]["unit"] == "% of a core"
    for backend in ("PostgreSQL", "SQLite"):  # the busy day, on both
        assert rows[f"tap-to-board p99, busy day, {backend}"]["value"] > 0
        assert rows[f"web CPU, 100 idle boards, busy day, {backend}"]["unit"] == "% of a core"


def test_offline_then_the_spool_is_replayed(env: BenchEnv) -> None:
    rows = _run(run_offline, env)
    assert rows["offline swipes answered OK"]["met"] is True
    assert rows["offline spool replayed after restart"]["met"] is True
