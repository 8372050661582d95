"""Scale: 256 connected readers that only exchange heartbeats, then one swipe a second each.

The daemon's CPU use comes from /proc/PID/stat (utime + stime) over the idle window,
as a percentage of one core; its peak resident set is VmHWM from /proc/PID/status,
read after the idle window (so it includes start-up and 256 HELLOs). Then every
reader taps once a second, phases spread evenly, and the p99 of those swipes is
compared with a PTY + commit floor measured in the same run.
"""

from __future__ import annotations

import asyncio
import time

from bench import floors
from bench.env import BenchEnv
from bench.rows import Row, latency_rows, row, sum_of_independent
from bench.session import Taps, running_gateway
from gateway.emulator import VirtualReader

CPU_LIMIT_PCT = 1.0
RSS_LIMIT_MB = 100.0


async def _once_a_second(
    reader: VirtualReader, uid: bytes, phase: float, start: float, seconds: int, taps: Taps
) -> None:
    for tick in range(seconds):
        delay = start + phase + tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        taps.add(await reader.tap(uid))


async def run_scale(env: BenchEnv, quick: bool) -> list[Row]:
    readers = 8 if quick else 256
    idle_s = 0.5 if quick else 30.0
    swipe_s = 1 if quick else 10
    floor_n = 40 if quick else 400
    taps = Taps()
    async with running_gateway(
        env, "scale", readers, online_timeout=15.0 if quick else 45.0, require_all=False
    ) as gw:
        await asyncio.sleep(0.5 if quick else 2.0)  # let the burst of HELLOs settle
        online = [r for r in gw.readers if r.online]
        cpu_start, wall_start = gw.daemon.cpu_seconds(), time.monotonic()
        await asyncio.sleep(idle_s)
        cpu_used = gw.daemon.cpu_seconds() - cpu_start
        wall = time.monotonic() - wall_start
        peak_mb = gw.daemon.memory_mb("VmHWM")
        rss_mb = gw.daemon.memory_mb("VmRSS")
        pty = await floors.pty_round_trips(floor_n)
        db = await asyncio.to_thread(floors.commit_samples, env.url, floor_n)
        start = time.monotonic() + 0.5
        await asyncio.gather(
            *(
                _once_a_second(r, env.cards[k % len(env.cards)], k / readers, start, swipe_s, taps)
                for k, r in enumerate(online)
            )
        )
        still_online = sum(1 for r in gw.readers if r.online)
        error = gw.daemon.commonest_error() if still_online < readers else None
    await asyncio.to_thread(floors.drop_floor_table, env.url)
    cpu_pct = 100.0 * cpu_used / wall
    p99 = latency_rows(
        f"{readers} readers, 1 swipe/s each:", taps.latencies, sum_of_independent(pty, db)
    )[1]
    p99["note"] = f"{taps.count} swipes, {taps.ko} KO, {taps.retransmitted} retransmitted"
    return [
        row(
            f"{readers} readers: online",
            len(online),
            f"of {readers}",
            target="all",
            met=len(online) == readers and still_online == readers,
            note=f"{still_online} online at the end" + (f"; daemon: {error}" if error else ""),
        ),
        row(
            f"{readers} idle readers: daemon CPU",
            cpu_pct,
            "% of a core",
            target=f"< {CPU_LIMIT_PCT:g} %",
            met=cpu_pct < CPU_LIMIT_PCT,
            note=f"{cpu_used:.2f} s CPU in {wall:.1f} s",
        ),
        row(
            f"{readers} idle readers: daemon peak RSS",
            peak_mb,
            "MB",
            target=f"< {RSS_LIMIT_MB:g} MB",
            met=peak_mb < RSS_LIMIT_MB,
            note=f"VmHWM; VmRSS {rss_mb:.1f} MB",
        ),
        p99,
    ]
