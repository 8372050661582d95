"""Every benchmark by name, in the order `python -m bench` runs them.

Gateway benchmarks get the shared environment (durable PostgreSQL, known cards);
bench.decoder and bench.reports belong to the protocol and reports engineers: their
`run()` returns rows of the same shape and is called as it is, if the module exists.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.env import BenchEnv
from bench.rows import Row

GatewayBench = Callable[[BenchEnv, bool], Awaitable[list[Row]]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    what: str
    gateway: GatewayBench | None = None  # needs the environment
    module: str | None = None  # an external module with run()


def _gateway(module: str, func: str) -> GatewayBench:
    async def call(env: BenchEnv, quick: bool) -> list[Row]:
        # Imported late: these need gateway.emulator, which --only decoder does not.
        fn = getattr(importlib.import_module(module), func)
        rows: list[Row] = await fn(env, quick)
        return rows

    return call


BENCHMARKS = (
    Benchmark("decoder", "protocol decoder MB/s (bench.decoder)", module="bench.decoder"),
    Benchmark("latency", "swipe latency, 2 readers", _gateway("bench.latency", "run_latency")),
    Benchmark(
        "swipe_statement",
        "the swipe's SQL statement against variants and the bare INSERT (bench.swipe_statement)",
        module="bench.swipe_statement",
    ),
    Benchmark(
        "latency_sqlite",
        "swipe latency, 2 readers, the daemon on SQLite (bench.latency_sqlite)",
        module="bench.latency_sqlite",
    ),
    Benchmark(
        "throughput",
        "64 readers as fast as possible",
        _gateway("bench.throughput", "run_throughput"),
    ),
    Benchmark("replug", "a reader replugged every second", _gateway("bench.replug", "run_replug")),
    Benchmark(
        "scale", "256 idle readers, then 1 swipe/s each", _gateway("bench.scale", "run_scale")
    ),
    Benchmark(
        "fleet",
        "1, 4 and 8 gateways x 16 readers on one PostgreSQL",
        _gateway("bench.fleet", "run_fleet"),
    ),
    Benchmark(
        "board",
        "tap-to-board latency at 1 and 100 boards, web CPU idle",
        _gateway("bench.board", "run_board"),
    ),
    # Last of the gateway ones: it stops PostgreSQL and the spool is replayed after.
    Benchmark(
        "offline", "swipe latency with PostgreSQL stopped", _gateway("bench.latency", "run_offline")
    ),
    Benchmark("reports", "report queries (bench.reports)", module="bench.reports"),
    Benchmark(
        "monthly",
        "register monthly: 200 workers' PDF and xlsx for a month (bench.monthly)",
        module="bench.monthly",
    ),
    Benchmark(
        "pages",
        "web pages at 2,000 people and a year of taps: weight and server p95 (bench.pages)",
        module="bench.pages",
    ),
    Benchmark(
        "export",
        "the Inspector's export, a year of 200 workers (bench.export)",
        module="bench.export",
    ),
    Benchmark(
        "import_original",
        "import-original of 1 M taps vs a bare COPY (bench.import_original)",
        module="bench.import_original",
    ),
    Benchmark(
        "tap_screen",
        "tap to screen: firmware in simavr + real daemon (bench.tap_screen)",
        module="bench.tap_screen",
    ),
)
NAMES = tuple(b.name for b in BENCHMARKS)


def module_present(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


async def run_module(name: str, quick: bool, trace_dir: Path | None = None) -> list[Row]:
    """Call `name.run()`, passing quick= (and trace_dir=, with --trace) if it takes
    them, awaiting it if it is async."""
    module = importlib.import_module(name)
    run = module.run
    kwargs: dict[str, Any] = {}
    parameters = inspect.signature(run).parameters
    if "quick" in parameters:
        kwargs["quick"] = quick
    if trace_dir is not None and "trace_dir" in parameters:
        kwargs["trace_dir"] = trace_dir
    result = run(**kwargs)
    if inspect.isawaitable(result):
        result = await result
    rows: list[Row] = []
    for item in result:
        r = dict(item)
        r.setdefault("floor", None)
        r.setdefault("ratio", None)
        r.setdefault("target", None)
        r.setdefault("met", None)
        rows.append(r)
    return rows
