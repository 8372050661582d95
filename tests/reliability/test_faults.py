"""Fault tests with real processes: the daemon as a subprocess, readers on PTYs (the
emulator), PostgreSQL in a cluster of our own that the tests stop, lock and restart.

Each counts the swipes the reader side saw acknowledged (status OK) against the rows
in PostgreSQL (see bench/kit/rig.py). Timeouts are short so that the five stay within a few
minutes together; bench/ is the place for long soaks.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.kit.harness import run_cli
from bench.kit.pgcluster import PgCluster
from bench.kit.rig import Rig, Tap, report
from gateway.protocol import Status
from tests.reliability.support import remount, tmpfs
from tests.support.wait import Deadline

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.postgres]

WAIT_S = 0.5  # the daemon's bounded database wait in these tests


async def test_postgres_stopped_mid_burst(
    own_cluster: PgCluster, own_pg_url: str, tmp_path: Path
) -> None:
    rig = Rig(tmp_path, own_pg_url, wait_s=WAIT_S)
    await rig.seed()
    await rig.start_readers()
    try:
        await rig.start_daemon()
        per_reader = 1000
        stopped = asyncio.Event()
        restarted = asyncio.Event()
        outage: dict[str, Any] = {}

        def watch(tap: Tap) -> None:
            n = len(rig.taps["entrance"])
            if n == 300 and not stopped.is_set():
                stopped.set()
            elif n == 700 and not restarted.is_set():
                restarted.set()

        async def operator() -> None:
            await stopped.wait()
            outage["start"] = time.monotonic()
            await asyncio.to_thread(own_cluster.stop)  # fast shutdown, mid-burst
            outage["status"] = await status_during_outage()
            await restarted.wait()
            await asyncio.to_thread(own_cluster.start)
            outage["end"] = time.monotonic()

        async def status_during_outage() -> dict[str, Any]:
            """`clock-gateway status --json`, as an operator would run it."""
            deadline = time.monotonic() + 10
            while True:
                result = await asyncio.to_thread(
                    run_cli, "status", "--json", "--config", str(rig.config)
                )
                doc: dict[str, Any] = json.loads(result.stdout)
                status = doc["status"]
                if status["spool_depth"] > 0 and not status["database_ok"]:
                    assert result.returncode == 0 and doc["state"] == "running"
                    return doc
                assert time.monotonic() < deadline, f"status never showed the outage: {doc}"
                await asyncio.sleep(0.2)

        started = time.monotonic()
        await asyncio.gather(
            rig.burst("entrance", per_reader, on_tap=watch),
            rig.burst("exit", per_reader),
            operator(),
        )
        burst_s = time.monotonic() - started
        drain_s = await rig.wait_drained()
        figures = rig.verify()
        assert figures.acknowledged == figures.taps == 2 * per_reader  # nobody was told KO
        spooled = len(rig.log_events("swipe", durability="spool"))
        assert spooled > 100, "the outage did not send swipes to the spool"
        links = {r["name"]: r["link_state"] for r in outage["status"]["status"]["readers"]}
        assert len(links) == 2
        figures.extra |= {
            "status_during_outage": {
                "spool_depth": outage["status"]["status"]["spool_depth"],
                "links": links,
            },
            "spooled": spooled,
            "outage_s": round(outage["end"] - outage["start"], 2),
            "burst_s": round(burst_s, 2),
            "drain_after_s": round(drain_s, 2),
            "max_latency_ms": round(max(t.latency_s for v in rig.taps.values() for t in v) * 1e3),
        }
        report("postgres_stopped_mid_burst", figures)
        assert await rig.stop_daemon() == 0
    finally:
        await rig.close()


# 21 daemon starts and a PostgreSQL stop and start: 45 s when quiet, over the
# default 90 s at load 12 (a clean clone's run beside other work).
@pytest.mark.time_limit(240)
async def test_sigkill_at_random_moments(
    own_cluster: PgCluster, own_pg_url: str, tmp_path: Path
) -> None:
    rig = Rig(tmp_path, own_pg_url, wait_s=WAIT_S)
    await rig.seed()
    await rig.start_readers()
    rng = random.Random(20261128)  # random moments, the same ones on every run
    kills = 20
    try:
        await rig.start_daemon()
        stop = asyncio.Event()
        moments: list[float] = []

        async def killer() -> None:
            for i in range(kills):
                # Kills 8-13 land while PostgreSQL is down: in the middle of fsync'd
                # spool appends and, after the restart below, of replays.
                if i == 8:
                    await asyncio.to_thread(own_cluster.stop)
                if i == 14:
                    await asyncio.to_thread(own_cluster.start)
                moment = rng.uniform(0.05, 0.8)
                moments.append(moment)
                await asyncio.sleep(moment)
                await rig.kill_daemon()  # SIGKILL: no cleanup of any kind
                await rig.start_daemon(wait_online=False)
            stop.set()

        await asyncio.gather(
            rig.burst("entrance", until=stop), rig.burst("exit", until=stop), killer()
        )
        drain_s = await rig.wait_drained()
        figures = rig.verify()
        assert len(rig.daemons) == kills + 1
        assert figures.acknowledged > 200
        assert figures.retransmitted > 0, "no kill caught a swipe in flight"
        figures.extra |= {
            "kills": kills,
            "answered_after_restart": sum(
                1 for v in rig.taps.values() for t in v if t.status is Status.OK and t.sends > 1
            ),
            "drain_after_s": round(drain_s, 2),
        }
        report("sigkill_at_random_moments", figures)
        assert await rig.stop_daemon() == 0
    finally:
        await rig.close()


async def test_unplug_and_replug_during_burst(own_pg_url: str, tmp_path: Path) -> None:
    rig = Rig(tmp_path, own_pg_url, wait_s=WAIT_S)
    await rig.seed()
    await rig.start_readers()
    rng = random.Random(50)
    cycles = 50
    try:
        await rig.start_daemon()
        stop = asyncio.Event()

        async def cables() -> None:
            for _ in range(cycles):
                await asyncio.sleep(rng.uniform(0.05, 0.3))
                names = ["entrance", "exit"]
                rng.shuffle(names)
                for name in names:  # both cables, in a random order
                    await rig.readers[name].unplug()
                    await asyncio.sleep(rng.uniform(0.0, 0.05))
                await asyncio.sleep(rng.uniform(0.02, 0.3))
                for name in names:
                    await rig.readers[name].replug()
            stop.set()

        await asyncio.gather(
            rig.burst("entrance", until=stop), rig.burst("exit", until=stop), cables()
        )
        drain_s = await rig.wait_drained()
        figures = rig.verify()
        assert figures.acknowledged > 20
        assert figures.retransmitted > 0, "no swipe was caught by an unplug"
        reconnects = len(rig.log_events("link_reconnected"))
        assert reconnects >= cycles, "the daemon did not notice the unplugs"
        figures.extra |= {"unplugs_per_reader": cycles, "reconnects": reconnects}
        figures.extra["drain_after_s"] = round(drain_s, 2)
        report("unplug_replug_during_burst", figures)
        assert await rig.stop_daemon() == 0
    finally:
        await rig.close()


async def test_spool_full_or_read_only_is_an_honest_ko(
    own_cluster: PgCluster, own_pg_url: str, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "state" / "spool"
    with tmpfs(spool_dir, "64k"):
        rig = Rig(tmp_path, own_pg_url, wait_s=WAIT_S)
        await rig.seed()
        await rig.start_readers()
        try:
            await rig.start_daemon()
            await asyncio.gather(rig.burst("entrance", 10), rig.burst("exit", 10))
            assert rig.acked() == 20

            # Full: PostgreSQL is down and the spool's filesystem fills up.
            await asyncio.to_thread(own_cluster.stop)
            refused: dict[str, int] = {"entrance": 0, "exit": 0}

            def count(tap: Tap) -> None:
                if tap.status is Status.KO:
                    refused[tap.reader] += 1

            full = asyncio.Event()

            full_by = Deadline(60, "the 64 KiB spool to fill and refuse 10 swipes per reader")

            async def until_refused(name: str) -> None:
                while refused[name] < 10:
                    await rig.burst(name, 1, on_tap=count)
                    full_by.check(f"{name}: {len(rig.taps[name])} taps, {refused[name]} KO")
                full.set()

            await asyncio.gather(until_refused("entrance"), until_refused("exit"))
            spooled = rig.acked() - 20
            assert spooled > 50, "the spool filled before it held anything"
            for taps in rig.taps.values():
                first_ko = next(i for i, t in enumerate(taps) if t.status is Status.KO)
                assert all(t.status is Status.KO for t in taps[first_ko:]), "an OK after full"
                assert all(t.text.startswith("NOT recorded") for t in taps[first_ko:])
            assert rig.log_events("spool_write_failed", reason="disk_full")
            assert rig.log_events("swipe_not_stored")
            assert await rig.stop_daemon() == 0

            # Read-only: the filesystem went read-only under a restarted daemon.
            await asyncio.to_thread(remount, spool_dir, "ro")
            try:
                await rig.start_daemon()
                before = rig.acked()
                await asyncio.gather(rig.burst("entrance", 5), rig.burst("exit", 5))
                assert rig.acked() == before, "an OK while the spool was read-only"
                assert rig.log_events("spool_write_failed", reason="read_only")
                assert await rig.stop_daemon() == 0
            finally:
                await asyncio.to_thread(remount, spool_dir, "rw")

            # Everything acknowledged reaches PostgreSQL; nothing refused does.
            await asyncio.to_thread(own_cluster.start)
            await rig.start_daemon()
            drain_s = await rig.wait_drained()
            figures = rig.verify()
            stored = {k for k, _ in rig.rows()}
            refused_keys = [t.key for v in rig.taps.values() for t in v if t.status is Status.KO]
            assert not [k for k in refused_keys if k in stored], "a refused swipe was stored"
            figures.extra |= {"spooled_before_full": spooled, "drain_after_s": round(drain_s, 2)}
            report("spool_full_or_read_only", figures)
            assert await rig.stop_daemon() == 0
        finally:
            await rig.close()


async def test_slow_postgres_is_answered_within_the_wait(own_pg_url: str, tmp_path: Path) -> None:
    rig = Rig(tmp_path, own_pg_url, wait_s=WAIT_S)
    await rig.seed()
    await rig.start_readers()
    try:
        await rig.start_daemon()
        await asyncio.gather(rig.burst("entrance", 50), rig.burst("exit", 50))
        blocker = await psycopg.AsyncConnection.connect(own_pg_url)
        await blocker.execute("LOCK TABLE clock_events IN ACCESS EXCLUSIVE MODE")
        mark = len(rig.taps["entrance"]), len(rig.taps["exit"])
        locked_at = time.monotonic()
        held = asyncio.Event()
        asyncio.get_running_loop().call_later(3.0, held.set)  # the lock is held 3 s
        await asyncio.gather(rig.burst("entrance", until=held), rig.burst("exit", until=held))
        locked_s = time.monotonic() - locked_at
        await blocker.rollback()  # the lock is released
        await blocker.close()
        during = rig.taps["entrance"][mark[0] :] + rig.taps["exit"][mark[1] :]
        assert all(t.status is Status.OK for t in during)
        # Answered within the bounded wait: no reader had to retransmit (1 s timeout).
        latencies = sorted(t.latency_s for t in during)
        assert max(latencies) < WAIT_S + 0.45, f"slowest answer {max(latencies):.3f} s"
        assert all(t.sends == 1 for t in during)
        drain_s = await rig.wait_drained()
        figures = rig.verify()
        figures.extra |= {
            "locked_s": round(locked_s, 2),
            "wait_s": WAIT_S,
            "max_latency_ms_locked": round(latencies[-1] * 1e3),
            "p50_latency_ms_locked": round(latencies[len(latencies) // 2] * 1e3),
            "drain_after_s": round(drain_s, 2),
        }
        report("slow_postgres", figures)
        assert await rig.stop_daemon() == 0
    finally:
        await rig.close()
