"""Swipe latency, online (PostgreSQL up) and offline (PostgreSQL stopped: the spool).

Two emulated readers tap known cards one at a time each; the emulator times each
swipe from SWIPE written to RESULT read. The floor is measured around the run (half
the samples before, half after, because the machine is shared and noisy):
online  = PTY round trip (bench.echo) + one INSERT+COMMIT through psycopg;
offline = PTY round trip + one fsync'd append in the spool's directory.
The two parts are added sample by sample (random pairs), not percentile by percentile.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench import floors, sqlcount, trace
from bench.env import BenchEnv
from bench.rows import Row, latency_rows, ms, percentile, row, sum_of_independent
from bench.session import Gateway, Taps, running_gateway, tap_all

P50_LIMIT = 2.0  # issue 23: p50 <= 2x the floor
P99_LIMIT = 3.0  # and p99 <= 3x
READERS = 2


def _cards_for(env: BenchEnv, reader: int, count: int, offset: int = 0) -> list[bytes]:
    """`count` cards for one reader: its own slice of the card pool, cycled."""
    own = env.cards[reader::READERS]
    return [own[(offset + i) % len(own)] for i in range(count)]


async def _tap_round(gw: Gateway, env: BenchEnv, per_reader: int, offset: int) -> Taps:
    parts = [Taps() for _ in gw.readers]
    await asyncio.gather(
        *(
            tap_all(reader, _cards_for(env, k, per_reader, offset), parts[k])
            for k, reader in enumerate(gw.readers)
        )
    )
    total = Taps()
    for part in parts:
        total.merge(part)
    return total


def _answered_row(prefix: str, taps: Taps, expected: int, stored: int | None) -> Row:
    """How many swipes were answered OK (and, online, found stored): all of them, or a miss."""
    note = f"{taps.ko} KO, {taps.retransmitted} retransmitted"
    if stored is not None:
        note += f", {stored} rows stored"
    ok = taps.ok == expected and (stored is None or stored >= taps.ok)
    return row(
        f"{prefix} swipes answered OK",
        taps.ok,
        f"of {expected}",
        target="all (and stored)",
        met=ok,
        note=note,
    )


def _cpu_row(prefix: str, cpu_s: float, taps: Taps) -> Row:
    """The daemon's CPU time per swipe: compared with the latency, it says how much of a
    swipe is the daemon computing and how much is waiting (for the database, a PTY)."""
    return row(
        f"{prefix} daemon CPU per swipe",
        ms(cpu_s / max(1, taps.count)),
        "ms",
        note=f"{cpu_s:.2f} s CPU (user + system) for {taps.count} swipes",
    )


async def _statement_row(gw: Gateway, env: BenchEnv, swipes: int) -> Row:
    """SQL statements per swipe, against the INSERT+COMMIT floor's statements."""
    reader, uids = gw.readers[0], iter(_cards_for(env, 0, swipes, offset=5000))

    async def one_swipe() -> None:
        await reader.tap(next(uids))

    log = env.cluster.log
    per_swipe, kinds = await sqlcount.statements_per_run(
        env.url, log, sqlcount.DAEMON_APP, swipes, one_swipe
    )

    async def one_commit() -> None:
        await asyncio.to_thread(floors.commit_samples, env.url, 1, warmup=0)

    per_commit, floor_kinds = await sqlcount.statements_per_run(
        env.url, log, floors.FLOOR_APP, swipes, one_commit
    )
    return row(
        "latency SQL statements per swipe",
        per_swipe,
        "statements",
        floor=per_commit,
        note=(
            f"daemon: {sqlcount.describe(kinds, swipes)}; "
            f"floor: {sqlcount.describe(floor_kinds, swipes)}"
        ),
    )


def _component_rows(prefix: str, parts: dict[str, list[float]]) -> list[Row]:
    return [
        row(f"{prefix} floor part: {name} p50", ms(percentile(samples, 50)), "ms")
        for name, samples in parts.items()
    ]


async def run_latency(env: BenchEnv, quick: bool) -> list[Row]:
    swipes = 60 if quick else 5000
    floor_n = 40 if quick else 1000
    per_reader = swipes // READERS
    async with running_gateway(env, "latency", READERS) as gw:
        pty = await floors.pty_round_trips(floor_n // 2)
        db = await asyncio.to_thread(floors.commit_samples, env.url, floor_n // 2)
        await _tap_round(gw, env, 10, offset=0)  # warm-up: connections, caches, imports
        before = await env.event_count()
        cpu = gw.daemon.cpu_seconds()
        taps = await _tap_round(gw, env, per_reader, offset=10)
        cpu = gw.daemon.cpu_seconds() - cpu
        stored = await env.event_count() - before
        pty += await floors.pty_round_trips(floor_n // 2)
        db += await asyncio.to_thread(floors.commit_samples, env.url, floor_n // 2)
        statements = await _statement_row(gw, env, 5 if quick else 20)
    await asyncio.to_thread(floors.drop_floor_table, env.url)
    floor = sum_of_independent(pty, db)
    traced = []
    if env.trace_dir is not None:  # written by the daemon as it exited
        traced = trace.hop_rows("latency", gw.daemon.trace_file or Path(), taps.latencies)
    return [
        *latency_rows("latency", taps.latencies, floor, p50_limit=P50_LIMIT, p99_limit=P99_LIMIT),
        _answered_row("latency", taps, per_reader * READERS, stored),
        *_component_rows("latency", {"PTY round trip": pty, "INSERT+COMMIT": db}),
        _cpu_row("latency", cpu, taps),
        statements,
        *traced,
    ]


async def _wait_stored(env: BenchEnv, target: int, timeout: float) -> float | None:
    """Seconds until at least `target` events are stored, or None on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if await env.event_count() >= target:
                return time.monotonic() - started
        except Exception:  # the database is still starting
            pass
        await asyncio.sleep(0.25)
    return None


async def run_offline(env: BenchEnv, quick: bool) -> list[Row]:
    swipes = 40 if quick else 2000
    floor_n = 40 if quick else 1000
    per_reader = swipes // READERS
    async with running_gateway(env, "offline", READERS) as gw:
        spool_dir = gw.daemon.state_dir / "spool"  # where gateway.recording.recorder puts it
        before = await env.event_count()
        await env.stop_database()
        try:
            pty = await floors.pty_round_trips(floor_n // 2)
            sync = await asyncio.to_thread(floors.fsync_append_samples, spool_dir, floor_n // 2)
            # Warm-up: the first swipes find out that the database is gone.
            warm = await _tap_round(gw, env, 10, offset=0)
            cpu = gw.daemon.cpu_seconds()
            taps = await _tap_round(gw, env, per_reader, offset=10)
            cpu = gw.daemon.cpu_seconds() - cpu
            pty += await floors.pty_round_trips(floor_n // 2)
            sync += await asyncio.to_thread(floors.fsync_append_samples, spool_dir, floor_n // 2)
        finally:
            await env.start_database()
        # Once PostgreSQL is back, the spool is replayed into it.
        drain_s = await _wait_stored(env, before + warm.ok + taps.ok, 20 if quick else 60)
    floor = sum_of_independent(pty, sync)
    return [
        *latency_rows(
            "offline latency", taps.latencies, floor, p50_limit=P50_LIMIT, p99_limit=P99_LIMIT
        ),
        _answered_row("offline", taps, per_reader * READERS, None),
        *_component_rows("offline", {"PTY round trip": pty, "fsync'd append": sync}),
        _cpu_row("offline", cpu, taps),
        row(
            "offline spool replayed after restart",
            drain_s if drain_s is not None else float("nan"),
            "s",
            target="all replayed",
            met=drain_s is not None,
            note=f"{warm.ok + taps.ok} spooled swipes",
        ),
    ]
