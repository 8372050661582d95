"""A fleet through its faults: three daemons (gateways), each with two emulated readers,
on one PostgreSQL, while every reader taps continuously:

1. PostgreSQL is restarted (fast shutdown) in the middle of the burst;
2. one daemon is SIGKILLed and started again;
3. another daemon's path to PostgreSQL, a TCP proxy on loopback, is cut and restored
   (the database stays up for the other two).

Expected: every acknowledged swipe stored exactly once, nothing stored that was never
tapped, each reader's rows in tap order, and every row carrying the id of the gateway
whose reader was tapped. Each fault waits for its condition (taps acknowledged, a
spool filling, a database back) with a time bound; the taps are paced so that the
figures do not depend on how fast the shared machine happens to be.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.kit.pgcluster import PgCluster
from bench.kit.rig import Figures, Rig, report
from gateway.protocol import Status
from gateway.status import read_status
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.postgres]

WAIT_S = 0.5
PACE_S = 0.02  # between one reader's taps: about 50 taps/s per reader, 300/s in all
GATEWAYS = ("hall-a", "hall-b", "hall-c")


async def until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait until `condition()` holds, at most `timeout` seconds; the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def status_of(rig: Rig) -> Any:
    try:
        return read_status(rig.state)
    except Exception:  # mid-rename or not written yet: no status this time
        return None


async def test_three_gateways_through_restart_kill_and_cut(
    own_cluster: PgCluster, own_pg_url: str, tmp_path: Path
) -> None:
    proxy = TcpProxy("127.0.0.1", own_cluster.port)
    await proxy.start()
    rigs: list[Rig] = []
    for gw in GATEWAYS:
        (tmp_path / gw).mkdir()
        url = proxy.url_for(own_pg_url) if gw == "hall-c" else own_pg_url
        rigs.append(
            Rig(
                tmp_path / gw,
                url,
                wait_s=WAIT_S,
                gateway_id=gw,
                names=(f"{gw}-entrance", f"{gw}-exit"),
            )
        )
    a, b, c = rigs
    await a.seed()
    stop = asyncio.Event()
    timeline: dict[str, float] = {}
    started = time.monotonic()

    def mark(what: str) -> None:
        timeline[what] = round(time.monotonic() - started, 2)

    def acked() -> int:
        return sum(r.acked() for r in rigs)

    async def paced(rig: Rig, name: str) -> None:
        while not stop.is_set():
            await rig.tap(name)
            await asyncio.sleep(PACE_S)

    async def more_taps(n: int, timeout: float, what: str) -> None:
        goal = acked() + n
        await until(lambda: acked() >= goal, timeout, what)

    async def operator() -> None:
        try:
            await more_taps(300, 20, "300 taps before the first fault")
            # 1. PostgreSQL restarted mid-burst.
            mark("postgres_stop")
            await asyncio.to_thread(own_cluster.stop)
            await until(
                lambda: all((s := status_of(r)) is not None and s.spool_depth > 0 for r in rigs),
                10,
                "every gateway spooling while PostgreSQL is down",
            )
            await asyncio.to_thread(own_cluster.start)
            mark("postgres_started")
            await until(
                lambda: all(
                    (s := status_of(r)) is not None and s.database_ok and s.spool_depth == 0
                    for r in rigs
                ),
                30,
                "every gateway's spool replayed after the restart",
            )
            mark("postgres_drained")
            await more_taps(200, 20, "taps after the restart")

            # 2. One daemon SIGKILLed mid-burst, and started again.
            mark("kill_b")
            await b.kill_daemon()
            await b.start_daemon(wait_online=True)
            mark("b_restarted")
            await more_taps(200, 20, "taps after the kill")

            # 3. One gateway's path to PostgreSQL cut (the database stays up).
            mark("cut_c")
            await proxy.cut()
            await until(
                lambda: (
                    (s := status_of(c)) is not None and not s.database_ok and s.spool_depth >= 50
                ),
                15,
                "hall-c spooling behind the cut",
            )
            mark("restore_c")
            await proxy.restore()
            await more_taps(200, 20, "taps after the restore")
        finally:
            stop.set()

    try:
        for rig in rigs:
            await rig.start_readers()
        await asyncio.gather(*(rig.start_daemon() for rig in rigs))
        mark("started")
        await asyncio.gather(
            operator(), *(paced(rig, name) for rig in rigs for name in rig.readers)
        )
        mark("burst_done")
        for rig in rigs:
            await rig.wait_drained(30)
        mark("drained")
        figures = verify_fleet(rigs)
        b_retried = sum(1 for t in b.taps_flat() if t.sends > 1 and t.status is Status.OK)
        spooled = {r.gateway_id: len(r.log_events("swipe", durability="spool")) for r in rigs}
        assert all(n > 0 for n in spooled.values()), f"a gateway never spooled: {spooled}"
        assert spooled["hall-c"] > spooled["hall-a"], "the cut did not make hall-c spool"
        figures.extra |= {
            "gateways": len(rigs),
            "readers": sum(len(r.readers) for r in rigs),
            "spooled": spooled,
            "b_answered_after_restart": b_retried,
            "proxy_connections": proxy.connections,
            "timeline_s": timeline,
        }
        report("fleet_restart_kill_cut", figures)
        for rig in rigs:
            assert await rig.stop_daemon() == 0
    finally:
        for rig in rigs:
            await rig.close()
        await proxy.close()


def verify_fleet(rigs: list[Rig]) -> Figures:
    """Rig.verify's invariants across gateways, plus the gateway id of every row."""
    with psycopg.connect(rigs[0].url) as conn:  # the first gateway's URL is the database's
        rows: list[tuple[uuid.UUID, str, str]] = [
            (r[0], r[1], r[2])
            for r in conn.execute(
                "SELECT event_key, reader, gateway_id FROM clock_events ORDER BY id"
            )
        ]
    taps = {t.key: (rig, t) for rig in rigs for t in rig.taps_flat()}
    assert len(taps) == sum(len(rig.taps_flat()) for rig in rigs), "event keys collide"
    acked = [t for _, t in taps.values() if t.status is Status.OK]
    stored = {k: (reader, gw) for k, reader, gw in rows}
    keys = [k for k, _, _ in rows]
    figures = Figures(
        taps=len(taps),
        acknowledged=len(acked),
        refused=sum(1 for _, t in taps.values() if t.status is Status.KO),
        gave_up=sum(1 for _, t in taps.values() if t.status is None),
        retransmitted=sum(1 for _, t in taps.values() if t.sends > 1),
        rows=len(rows),
        lost=sum(1 for t in acked if t.key not in stored),
        duplicated=len(keys) - len(set(keys)),
    )
    missing = [t for t in acked if t.key not in stored]
    assert not missing, f"{len(missing)} acknowledged taps not stored: {missing[:3]}"
    assert figures.duplicated == 0, "an event was stored twice"
    phantom = [k for k in keys if k not in taps]
    assert not phantom, f"{len(phantom)} stored events were never tapped: {phantom[:3]}"
    wrong = [(k, gw, taps[k][0].gateway_id) for k, _, gw in rows if gw != taps[k][0].gateway_id]
    assert not wrong, f"{len(wrong)} events carry the wrong gateway id: {wrong[:3]}"
    for rig in rigs:
        for name in rig.readers:
            seqs = [
                taps[k][1].seq for k, reader, gw in rows if (reader, gw) == (name, rig.gateway_id)
            ]
            assert seqs == sorted(seqs), f"{rig.gateway_id}/{name}: rows out of tap order"
            assert rig.readers[name].session == rig.sessions[name], f"{name}: a new session"
    assert figures.refused == 0, "a reader was told KO"
    return figures
