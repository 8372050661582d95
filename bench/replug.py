"""Replug: one reader is unplugged and plugged back every second while another taps.

A failing or flapping port must not disturb the other readers (one supervisor per
reader; no blocking close on the event loop). The tapping reader's p99 with the
replugging going on is compared with its p99 without it, in alternating blocks so
that both see the same background load. Then the replugged reader's own figure: how
long after the cable is back the daemon has the port open again, for unplugs of a few
lengths (the reconnect backoff, capped at 1 s, makes that depend on the length).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from bench.env import BenchEnv
from bench.rows import Row, ms, percentile, row
from bench.session import Taps, running_gateway, tap_until
from gateway.emulator import VirtualReader

# "No visible change": within half again the quiet p99, or within 5 ms of it (a
# person cannot see 5 ms, and a quiet p99 of 2 ms would otherwise be a hair trigger).
RATIO_LIMIT = 1.5
ABSOLUTE_MS = 5.0
# Unplugged for these long (s), in turn: short ones meet a small backoff, long ones its cap.
DOWN_S = (0.3, 0.8, 1.5, 2.5)
REOPEN_TIMEOUT_S = 10.0


async def _replug_every_second(reader: VirtualReader, stop: asyncio.Event) -> int:
    cycles = 0
    while not stop.is_set():
        await reader.unplug()
        await asyncio.sleep(0.5)
        await reader.replug()
        cycles += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
    return cycles


async def run_replug(env: BenchEnv, quick: bool) -> list[Row]:
    blocks = 1 if quick else 5
    block_s = 1.0 if quick else 2.5
    quiet, noisy = Taps(), Taps()
    cycles = 0
    async with running_gateway(env, "replug", 2) as gw:
        tapper, flapper = gw.readers
        cards = env.cards[0::2]
        for _ in range(blocks):
            await tap_until(tapper, cards, time.monotonic() + block_s, quiet, start=quiet.count)
            stop = asyncio.Event()
            replugging = asyncio.create_task(_replug_every_second(flapper, stop))
            await tap_until(tapper, cards, time.monotonic() + block_s, noisy, start=noisy.count)
            stop.set()
            cycles += await replugging
        # The replugged reader must come back.
        await asyncio.wait_for(flapper.wait_online(), timeout=15.0)
        reopen = await _reopen_times(flapper, 1 if quick else 3)
    quiet_p99 = ms(percentile(quiet.latencies, 99))
    noisy_p99 = ms(percentile(noisy.latencies, 99))
    r = row(
        "replug: other reader's p99",
        noisy_p99,
        "ms",
        floor=quiet_p99,
        target=f"ratio <= {RATIO_LIMIT:g} or +{ABSOLUTE_MS:g} ms",
        note=(
            f"{cycles} replugs; {noisy.count} swipes during, {quiet.count} without; "
            f"{noisy.ko + quiet.ko} KO, {noisy.retransmitted + quiet.retransmitted} retransmitted"
        ),
    )
    ratio = r["ratio"]
    r["met"] = (
        ratio is not None
        and (ratio <= RATIO_LIMIT or noisy_p99 - quiet_p99 <= ABSOLUTE_MS)
        and noisy.ko == 0
    )
    return [
        r,
        row(
            "replug: other reader's p50",
            ms(percentile(noisy.latencies, 50)),
            "ms",
            floor=ms(percentile(quiet.latencies, 50)),
        ),
        row(
            "replug: port reopened after, p50",
            ms(percentile(reopen, 50)),
            "ms",
            note=f"{len(reopen)} replugs after {', '.join(f'{d:g}' for d in DOWN_S)} s unplugged",
        ),
        row("replug: port reopened after, max", ms(max(reopen)), "ms"),
    ]


async def _reopen_times(reader: VirtualReader, rounds: int) -> list[float]:
    """Seconds from plugging the cable back to the daemon opening the port, per replug."""
    times = []
    for _ in range(rounds):
        for down_s in DOWN_S:
            await reader.unplug()
            await asyncio.sleep(down_s)
            opens = reader.opens
            started = time.monotonic()
            await reader.replug()
            await reader.wait_opened(opens, timeout=REOPEN_TIMEOUT_S)
            times.append(time.monotonic() - started)
            await reader.wait_online(timeout=REOPEN_TIMEOUT_S)
    return times
