"""`python -m bench` (`make bench`): run the benchmarks, print one table, save JSON.

Each figure sits next to a floor measured in the same run, because the machines
are shared and noisy: the ratio is what to compare between runs. See
docs/PERFORMANCE.md for what each row means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import machine
from bench.registry import BENCHMARKS, NAMES, Benchmark, module_present, run_module
from bench.rows import Row, format_number, row
from gateway.logs import configure_logging

RESULTS = Path(__file__).resolve().parent / "results"
# A card per person; enough that a card comes back to a reader only every few seconds.
CARDS_FULL = 2000
CARDS_QUICK = 200
BENCH_TIMEOUT_S = 600.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of clock-gateway, each against a floor measured in the same run.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts and short windows (smoke test)"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this benchmark (repeatable, or comma-separated): {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record each daemon with py-spy into bench/results/profile-DATE/ (slows it down)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="stamp each hop of each swipe in the daemons (latency: the median between hops)",
    )
    parser.add_argument(
        "--output", metavar="PATH", help="write the JSON results here (default: bench/results/)"
    )
    args = parser.parse_args(argv)
    selected: list[str] = []
    for item in args.only or []:
        selected += [n.strip() for n in item.split(",") if n.strip()]
    unknown = [n for n in selected if n not in NAMES]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(NAMES)}")
    args.selected = selected or list(NAMES)
    return args


def print_table(rows: list[Row]) -> None:
    headers = ("name", "value", "unit", "floor", "ratio", "target", "met?")
    cells = [
        [
            str(r["name"]),
            format_number(r["value"]),
            str(r.get("unit") or ""),
            format_number(r.get("floor")),
            "" if r.get("ratio") is None else f"{r['ratio']:.2f}x",
            str(r.get("target") or ""),
            format_number(r.get("met")),
        ]
        for r in rows
    ]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    right = {1, 3, 4}  # numbers line up on the right

    def line(values: list[str] | tuple[str, ...]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    print(line(headers))
    print(line(["-" * w for w in widths]))
    for c in cells:
        print(line(c))
    notes = [r for r in rows if r.get("note")]
    if notes:
        print()
        for r in notes:
            print(f"  {r['name']}: {r['note']}")


def _failure_row(name: str, exc: BaseException) -> Row:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return row(f"{name} FAILED", math.nan, "", met=False, note=f"{type(exc).__name__}: {first}")


async def _run_one(
    bench: Benchmark,
    env_holder: dict[str, Any],
    quick: bool,
    profile_dir: Path | None,
    trace_dir: Path | None,
) -> list[Row]:
    if bench.module is not None:
        return await run_module(bench.module, quick, trace_dir)
    assert bench.gateway is not None
    if "env" not in env_holder:
        from bench.env import create_env

        print("  starting a durable PostgreSQL and enrolling cards...", file=sys.stderr)
        env_holder["env"] = await create_env(CARDS_QUICK if quick else CARDS_FULL)
        env_holder["env"].profile_dir = profile_dir
        env_holder["env"].trace_dir = trace_dir
    return await bench.gateway(env_holder["env"], quick)


async def run_all(
    selected: list[str],
    quick: bool,
    profile_dir: Path | None = None,
    trace_dir: Path | None = None,
) -> tuple[list[Row], list[dict[str, Any]]]:
    rows: list[Row] = []
    runs: list[dict[str, Any]] = []
    env_holder: dict[str, Any] = {}
    try:
        for bench in BENCHMARKS:
            if bench.name not in selected:
                continue
            if bench.module is not None and not module_present(bench.module):
                print(f"{bench.name}: skipped ({bench.module} is not there)", file=sys.stderr)
                runs.append({"name": bench.name, "status": "absent"})
                continue
            print(f"{bench.name}: {bench.what}...", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                got = await asyncio.wait_for(
                    _run_one(bench, env_holder, quick, profile_dir, trace_dir), BENCH_TIMEOUT_S
                )
                status = "ok"
            except Exception as exc:  # one broken benchmark must not hide the others
                traceback.print_exc(file=sys.stderr)
                got = [_failure_row(bench.name, exc)]
                status = "failed"
            took = time.monotonic() - started
            print(f"{bench.name}: {status} in {took:.1f} s", file=sys.stderr, flush=True)
            for r in got:
                r["benchmark"] = bench.name
            rows += got
            runs.append({"name": bench.name, "status": status, "seconds": round(took, 1)})
    finally:
        env = env_holder.get("env")
        if env is not None:
            env.destroy()
    return rows, runs


def save(results: dict[str, Any], output: str | None) -> Path:
    if output:
        path = Path(output)
    else:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = results["machine"]["date"].replace(":", "").replace("-", "")[:15]
        path = RESULTS / f"{stamp}-{results['machine']['commit'] or 'nogit'}.json"
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(value: Any) -> Any:  # JSON has no NaN
        return None if isinstance(value, float) and not math.isfinite(value) else value

    data = {**results, "rows": [{k: clean(v) for k, v in r.items()} for r in results["rows"]]}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("warning", json=False)
    info = machine.describe()
    started = time.monotonic()
    profile_dir = None
    if args.profile:
        profile_dir = RESULTS / f"profile-{info['date'].replace(':', '').replace('-', '')[:15]}"
        print(f"profiling the daemon into {profile_dir}", file=sys.stderr)
    trace_dir = None
    if args.trace:
        trace_dir = RESULTS / f"trace-{info['date'].replace(':', '').replace('-', '')[:15]}"
        trace_dir.mkdir(parents=True, exist_ok=True)
        print(f"tracing the daemons' swipes into {trace_dir}", file=sys.stderr)
    try:
        rows, runs = asyncio.run(run_all(args.selected, args.quick, profile_dir, trace_dir))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    info["total_seconds"] = round(time.monotonic() - started, 1)
    results = {"machine": info, "quick": args.quick, "runs": runs, "rows": rows}
    path = save(results, args.output)
    print()
    print(
        machine.summary(info) + f"  ({info['total_seconds']} s{', --quick' if args.quick else ''})"
    )
    print()
    print_table(rows)
    print(f"\nresults: {path}")
    return 1 if any(run["status"] == "failed" for run in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
