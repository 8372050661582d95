"""Throughput: many readers tapping as fast as stop-and-wait allows.

Each of 64 emulated readers taps, waits for its RESULT, and taps again. The figure is
swipes per second answered OK (each one durable before its RESULT) and checked against
the rows found in the database afterwards. The floor is a bare psycopg loop of
single-row INSERT+COMMIT on the same database, run before and after (mean of both):
the gateway has many swipes in flight and can commit them in groups, so the target
is to beat that loop, not to match it.
"""

from __future__ import annotations

import asyncio
import time

from bench import floors
from bench.env import BenchEnv
from bench.rows import Row, at_least, ms, percentile, row
from bench.session import Taps, running_gateway, tap_all, tap_until

TARGET_RATIO = 2.0


async def run_throughput(env: BenchEnv, quick: bool) -> list[Row]:
    readers = 8 if quick else 64
    seconds = 0.7 if quick else 15.0
    loop_s = 0.2 if quick else 3.0
    parts = [Taps() for _ in range(readers)]
    async with running_gateway(env, "throughput", readers) as gw:
        rate_before = await asyncio.to_thread(floors.commit_loop_rate, env.url, loop_s)
        # Warm-up: one swipe per reader, so that every link has served one.
        warm = Taps()
        await asyncio.gather(
            *(tap_all(r, [env.cards[k % len(env.cards)]], warm) for k, r in enumerate(gw.readers))
        )
        before = await env.event_count()
        sessions = await env.sessions_opened()
        cpu = gw.daemon.cpu_seconds()
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        # Reader k taps its own cards (k, k + readers, ...) so no two readers share a card.
        await asyncio.gather(
            *(
                tap_until(r, env.cards[k::readers] or env.cards, deadline, parts[k])
                for k, r in enumerate(gw.readers)
            )
        )
        elapsed = time.perf_counter() - started
        cpu = gw.daemon.cpu_seconds() - cpu
        await asyncio.sleep(1.0)  # backends report their sessions' statistics lazily
        sessions = await env.sessions_opened() - sessions - 1  # not counting ours
        stored = await env.event_count() - before
        rate_after = await asyncio.to_thread(floors.commit_loop_rate, env.url, loop_s)
    await asyncio.to_thread(floors.drop_floor_table, env.url)
    taps = Taps()
    for part in parts:
        taps.merge(part)
    loop_rate = (rate_before + rate_after) / 2
    main = row(
        f"throughput, {readers} readers",
        taps.ok / elapsed,
        "swipes/s",
        floor=loop_rate,
        note=(
            f"{taps.ok} OK in {elapsed:.1f} s, {stored} rows stored, {taps.ko} KO, "
            f"{taps.retransmitted} retransmitted; commit loop {rate_before:.0f} then "
            f"{rate_after:.0f}/s"
        ),
    )
    at_least(main, TARGET_RATIO)
    if stored < taps.ok:  # some OKs were spooled, not committed: not the figure claimed
        main["met"] = False
    return [
        main,
        row(f"throughput, {readers} readers: swipe p50", ms(percentile(taps.latencies, 50)), "ms"),
        row(f"throughput, {readers} readers: swipe p99", ms(percentile(taps.latencies, 99)), "ms"),
        # Near 100 %: the daemon (one event loop, one core) is the bottleneck.
        row(
            f"throughput, {readers} readers: daemon CPU",
            100.0 * cpu / elapsed,
            "% of a core",
            note=f"{ms(cpu / max(1, taps.count)):.2f} ms CPU per swipe",
        ),
        # A pool too small for the concurrency opens (and authenticates) and closes
        # connections all the time; a steady pool opens none.
        row(
            f"throughput, {readers} readers: DB connections opened",
            max(0, sessions),
            "connections",
            note="pg_stat_database.sessions during the run",
        ),
    ]
