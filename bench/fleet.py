"""Fleet: 1, 4 and 8 gateways (daemons), each with 16 emulated readers, on one PostgreSQL.

Every reader taps as fast as stop-and-wait allows, as in the throughput benchmark, so
the figure is what the fleet can push through one database on this machine. Against:

- the commit-loop floor (a bare single-row autocommit INSERT loop on one connection),
  measured before and after each step: the aggregate swipes/s next to it;
- a latency floor (PTY round trip + one INSERT+COMMIT, paired at random), measured
  once before the steps: each step's swipe p99 next to it.

And what each gateway costs the database, for docs/SCALING.md: transactions per swipe
(pg_stat_database.xact_commit over the tapping window; every swipe statement is its own
autocommit transaction, so this counts statements too), sessions held per gateway
(pg_stat_activity, application_name clock-gateway, during the taps and when idle),
sessions opened during the run (churn), and an idle gateway's transactions per minute
(heartbeats, directory refreshes).

On a 2-core machine, 8 daemons and 128 emulated readers compete for the same cores as
PostgreSQL: the daemons' CPU row says how close to that limit a step ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psycopg

from bench import floors
from bench.daemon import Daemon, ReaderSpec
from bench.env import BenchEnv
from bench.rows import Row, ms, percentile, row, sum_of_independent
from bench.session import ROLES, Taps, tap_all, tap_until
from gateway.emulator import VirtualReader

READERS_PER_GATEWAY = 16
STEPS_FULL = (1, 4, 8)
STEPS_QUICK = (1, 2)
APP = "clock-gateway"


@dataclass
class _Fleet:
    daemons: list[Daemon] = field(default_factory=list)
    readers: list[list[VirtualReader]] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        return sum(d.cpu_seconds() for d in self.daemons)


@contextlib.asynccontextmanager
async def _running_fleet(env: BenchEnv, count: int, readers_per: int) -> AsyncIterator[_Fleet]:
    fleet = _Fleet()
    try:
        for g in range(count):
            workdir = env.new_workdir(f"fleet{count}-gw{g}")
            ports = workdir / "by-id"
            ports.mkdir()
            readers = []
            for i in range(readers_per):
                name = f"g{g}r{i:02d}"  # a board of its own: distinct hardware ids
                reader = VirtualReader(ROLES[i % 2], name=name, link_path=ports / name)
                await reader.start()
                readers.append(reader)
            fleet.readers.append(readers)
            specs = [ReaderSpec(r.name, r.port, ROLES[i % 2]) for i, r in enumerate(readers)]
            daemon = Daemon(workdir, env.url, specs, gateway_id=f"bench-gw{g}")
            daemon.start()
            fleet.daemons.append(daemon)
        everyone = [r for rs in fleet.readers for r in rs]
        timeout = 30.0 + 2.0 * count
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(r.wait_online() for r in everyone))
        except TimeoutError:
            online = sum(1 for r in everyone if r.online)
            tails = "\n".join(d.log_tail(5) for d in fleet.daemons if not d.alive())
            raise RuntimeError(
                f"fleet of {count}: {online} of {len(everyone)} readers online after "
                f"{timeout:.0f} s{'; ' + tails if tails else ''}"
            ) from None
        yield fleet
        dead = [d for d in fleet.daemons if not d.alive()]
        if dead:
            raise RuntimeError(f"a daemon died during the run; log:\n{dead[0].log_tail()}")
    finally:
        await asyncio.gather(*(asyncio.to_thread(d.stop) for d in fleet.daemons))
        for readers in fleet.readers:
            for reader in readers:
                await reader.close()


def _db_counters(url: str) -> tuple[int, int, int]:
    """(transactions committed, sessions ever opened, clock-gateway sessions now)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT xact_commit, sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        held = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (APP,)
        ).fetchone()
    assert found is not None and held is not None
    return int(found[0]), int(found[1] or 0), int(held[0])


async def _counters(env: BenchEnv, settle_s: float) -> tuple[int, int, int]:
    """_db_counters once the daemons' backends have published theirs: a busy backend
    publishes its counters at most once a second, an idle one only after 10 s idle
    (PostgreSQL 15's PGSTAT_MIN_INTERVAL and PGSTAT_IDLE_INTERVAL), so the edges of a
    measured window wait `settle_s` (11 s) with no swipe."""
    await asyncio.sleep(settle_s)
    return await asyncio.to_thread(_db_counters, env.url)


async def _step(
    env: BenchEnv,
    count: int,
    readers_per: int,
    seconds: float,
    loop_s: float,
    idle_s: float,
    settle_s: float,
    floor_p99_ms: float,
) -> list[Row]:
    prefix = f"fleet, {count} gateway{'s' if count > 1 else ''} x {readers_per} readers"
    parts: list[Taps] = []
    async with _running_fleet(env, count, readers_per) as fleet:
        rate_before = await asyncio.to_thread(floors.commit_loop_rate, env.url, loop_s)
        everyone = [r for rs in fleet.readers for r in rs]
        warm = Taps()  # one swipe per reader first, so that every link has served one
        await asyncio.gather(
            *(tap_all(r, [env.cards[k % len(env.cards)]], warm) for k, r in enumerate(everyone))
        )
        stored_before = await env.event_count()
        xact0, sessions0, _ = await _counters(env, settle_s)
        cpu0 = fleet.cpu_seconds()
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        parts = [Taps() for _ in everyone]
        n = len(everyone)
        # Reader k taps its own cards (k, k + n, ...): no two readers share a card.
        tapping = asyncio.gather(
            *(
                tap_until(r, env.cards[k::n] or env.cards, deadline, parts[k])
                for k, r in enumerate(everyone)
            )
        )
        await asyncio.sleep(seconds / 2)
        held_busy = (await asyncio.to_thread(_db_counters, env.url))[2]
        await tapping
        elapsed = time.perf_counter() - started
        cpu = fleet.cpu_seconds() - cpu0
        xact1, sessions1, held_idle = await _counters(env, settle_s)
        stored = await env.event_count() - stored_before
        # Idle: no swipes; what the gateways still ask of the database.
        await asyncio.sleep(idle_s)
        xact2, _, _ = await _counters(env, 0.0)
        rate_after = await asyncio.to_thread(floors.commit_loop_rate, env.url, loop_s)
    taps = Taps()
    for part in parts:
        taps.merge(part)
    loop_rate = (rate_before + rate_after) / 2
    # Our own counting queries are transactions too: 2 per _db_counters call (xact0's
    # and the one mid-run); the settle before xact1 adds an idle gateway's few.
    xacts = max(0, xact1 - xact0 - 4)
    idle_xacts = max(0, xact2 - xact1 - 2)
    main = row(
        prefix,
        taps.ok / elapsed,
        "swipes/s",
        floor=loop_rate,
        note=(
            f"{taps.ok} OK in {elapsed:.1f} s, {stored} rows stored, {taps.ko} KO, "
            f"{taps.retransmitted} retransmitted; commit loop {rate_before:.0f} then "
            f"{rate_after:.0f}/s"
        ),
    )
    if stored < taps.ok:
        main["met"] = False
    rows = [
        main,
        row(f"{prefix}: swipe p50", ms(percentile(taps.latencies, 50)), "ms"),
        row(
            f"{prefix}: swipe p99",
            ms(percentile(taps.latencies, 99)),
            "ms",
            floor=floor_p99_ms,
            note="floor: PTY round trip + INSERT+COMMIT p99",
        ),
        row(
            f"{prefix}: daemons' CPU",
            100.0 * cpu / elapsed,
            "% of a core",
            note=f"{count} daemons together; {ms(cpu / max(1, taps.count)):.2f} ms CPU per swipe",
        ),
        row(
            f"{prefix}: DB transactions per swipe",
            xacts / max(1, taps.ok),
            "transactions",
            note=f"{xacts} committed during the taps (pg_stat_database.xact_commit)",
        ),
        row(
            f"{prefix}: DB sessions per gateway, busy",
            held_busy / count,
            "sessions",
            note=f"{held_busy} in pg_stat_activity mid-run",
        ),
        row(
            f"{prefix}: DB sessions per gateway, idle",
            held_idle / count,
            "sessions",
            note=f"{held_idle} after the taps",
        ),
        row(
            f"{prefix}: DB sessions opened during the taps",
            max(0, sessions1 - sessions0 - 2),
            "sessions",
            note="pg_stat_database.sessions; a steady fleet opens none",
        ),
        row(
            f"{prefix}: idle DB transactions per gateway per minute",
            60.0 * idle_xacts / idle_s / count,
            "transactions/min",
            note=f"{idle_xacts} in {idle_s:.0f} s with no swipe (heartbeats, refreshes)",
        ),
    ]
    return rows


async def run_fleet(env: BenchEnv, quick: bool) -> list[Row]:
    steps = STEPS_QUICK if quick else STEPS_FULL
    readers_per = 4 if quick else READERS_PER_GATEWAY
    seconds = 1.0 if quick else 10.0
    loop_s = 0.2 if quick else 3.0
    idle_s = 1.0 if quick else 30.0
    settle_s = 1.0 if quick else 11.0
    floor_n = 40 if quick else 300
    pty = await floors.pty_round_trips(floor_n)
    db = await asyncio.to_thread(floors.commit_samples, env.url, floor_n)
    floor_p99_ms = ms(percentile(sum_of_independent(pty, db), 99))
    rows: list[Row] = []
    try:
        for count in steps:
            rows += await _step(
                env, count, readers_per, seconds, loop_s, idle_s, settle_s, floor_p99_ms
            )
    finally:
        await asyncio.to_thread(floors.drop_floor_table, env.url)
    return rows
