"""A gateway under test: N emulated readers on PTYs and the daemon serving them.

The readers (gateway.emulator.VirtualReader) are created first because the daemon's
configuration names their PTYs; the gateway is ready when every reader has had its
HELLO acknowledged, which is the readiness that matters to a benchmark.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench import profile
from bench.daemon import Daemon, ReaderSpec
from gateway.emulator import TapResult, VirtualReader

ROLES = ("in", "out")


@dataclass
class Taps:
    """What a run of taps produced: latencies of answered swipes and the failures."""

    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    ko: int = 0
    retransmitted: int = 0

    def add(self, result: TapResult) -> None:
        # A tap the reader gave up on (status None) counts as KO, at its full wait.
        self.latencies.append(result.latency_s)
        if result.ok:
            self.ok += 1
        else:
            self.ko += 1
        if result.sends > 1:
            self.retransmitted += 1

    def merge(self, other: Taps) -> None:
        self.latencies += other.latencies
        self.ok += other.ok
        self.ko += other.ko
        self.retransmitted += other.retransmitted

    @property
    def count(self) -> int:
        return len(self.latencies)


async def tap_all(reader: VirtualReader, uids: Iterable[bytes], taps: Taps) -> None:
    """Tap each card in turn, each waiting for its RESULT (stop-and-wait)."""
    for uid in uids:
        taps.add(await reader.tap(uid))


async def tap_until(
    reader: VirtualReader, uids: Sequence[bytes], deadline: float, taps: Taps, *, start: int = 0
) -> None:
    """Tap cards round-robin as fast as RESULTs come back, until `deadline` (monotonic)."""
    i = start
    while time.monotonic() < deadline:
        taps.add(await reader.tap(uids[i % len(uids)]))
        i += 1


class GatewayHost(Protocol):
    """What a gateway under test needs of its benchmark's environment: bench.env's
    BenchEnv (PostgreSQL), or bench.latency_sqlite's SQLite file."""

    profile_dir: Path | None
    trace_dir: Path | None

    @property
    def url(self) -> str: ...

    def new_workdir(self, name: str) -> Path: ...


@dataclass
class Gateway:
    readers: list[VirtualReader]
    daemon: Daemon


@asynccontextmanager
async def running_gateway(
    env: GatewayHost,
    name: str,
    count: int,
    *,
    online_timeout: float | None = None,
    require_all: bool = True,
) -> AsyncIterator[Gateway]:
    """Start `count` readers (alternately entrance and exit) and a daemon serving them.

    With require_all=False a benchmark goes on with the readers that did come online
    (and reports how many): a partial figure says more than none.
    """
    readers: list[VirtualReader] = []
    daemon: Daemon | None = None
    profiler = None
    workdir = env.new_workdir(name)
    ports = workdir / "by-id"  # stable names across replugs, like /dev/serial/by-id
    ports.mkdir()
    try:
        for i in range(count):
            reader = VirtualReader(ROLES[i % 2], name=f"r{i:03d}", link_path=ports / f"r{i:03d}")
            await reader.start()
            readers.append(reader)
        specs = [ReaderSpec(f"r{i:03d}", r.port, ROLES[i % 2]) for i, r in enumerate(readers)]
        trace = None if env.trace_dir is None else env.trace_dir / f"{name}.jsonl"
        daemon = Daemon(workdir, env.url, specs, trace_file=trace)
        daemon.start()
        if env.profile_dir is not None:
            profiler = profile.start(daemon.pid, env.profile_dir / f"{name}.txt")
        timeout = online_timeout or 20.0 + count * 0.1
        try:
            await asyncio.wait_for(
                asyncio.gather(*(r.wait_online() for r in readers)), timeout=timeout
            )
        except TimeoutError:
            online = sum(1 for r in readers if r.online)
            if require_all or online == 0:
                raise RuntimeError(
                    f"{name}: only {online} of {count} readers online after {timeout:.0f} s; "
                    f"daemon log:\n{daemon.log_tail()}"
                ) from None
        if not daemon.alive():
            raise RuntimeError(f"{name}: the daemon exited; log:\n{daemon.log_tail()}")
        yield Gateway(readers, daemon)
        if not daemon.alive():
            raise RuntimeError(f"{name}: the daemon died during the run; log:\n{daemon.log_tail()}")
    finally:
        if daemon is not None:
            await asyncio.to_thread(daemon.stop)
        if profiler is not None and env.profile_dir is not None:
            await asyncio.to_thread(profiler.wait, 60)
            raw = env.profile_dir / f"{name}.txt"
            if raw.exists():
                (env.profile_dir / f"{name}.summary.txt").write_text(profile.summarize(raw))
        for reader in readers:
            await reader.close()
