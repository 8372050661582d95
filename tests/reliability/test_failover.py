"""The central PostgreSQL fails over mid-burst (issue 24 item 18).

A real primary and a real streaming standby (`pg_basebackup -R`, synchronous: a commit
is acknowledged once the standby has it), the daemon as a subprocess and the web as
another, both configured with libpq's multi-host URL (`h1:p1,h2:p2`,
`target_session_attrs=read-write`), two emulated readers on PTYs tapping throughout.
Mid-burst the primary is stopped in immediate mode (a crash: no shutdown checkpoint,
sessions cut) and, once the daemon has spooled a good number of taps, the standby is
promoted. Nobody restarts anything: the daemon must find the new primary by itself,
replay its spool there and go back to direct writes, and both LISTEN sessions (the
daemon's card directory, the web's live board) must come back, quickly.

Checked against the promoted database: every acknowledged tap exactly once, nothing
stored that was never tapped, each reader's rows in tap order, no KO, and the
register's seal chain verifies (`register verify`). Figures: the gap, the taps
spooled, the time to the first direct write and to each LISTEN after the promotion.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.kit.harness import run_cli
from bench.kit.pgcluster import PASSWORD, SUPERUSER, PgCluster, standby_of, start_cluster
from bench.kit.rig import Rig, Tap, report
from gateway.protocol import Status
from gateway.store.listen import RETRY_MAX_S
from tests.reliability.live_stack import daemon_and_web, web_events
from tests.support.wait import Deadline, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.postgres]

WAIT_S = 0.5  # the daemon's bounded database wait
# The promotion comes once the daemon has spooled this many taps and the primary has
# been gone this long (a failover tool's detection time, shortened): long enough for
# every reconnection loop to have backed off to its longest delay.
SPOOLED_BEFORE_PROMOTION = 100
GAP_S = 4.0
# A LISTEN must be back this soon after the promotion (16 s before issue 24): its
# backoff cap and a generous connection; a hung old primary adds one connect timeout
# (the first connection of each path waits on it; engine.HostOrder spares the rest).
LISTEN_BACK_S = RETRY_MAX_S + 4.0
CONNECT_TIMEOUT_S = 5.0  # the daemon's and the web's (Database's default)


class HungHost:
    """A port that accepts TCP and never answers: the old primary's machine frozen
    (libpq waits its whole connect timeout there before it tries the next host)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(512)

    def close(self) -> None:
        self.sock.close()


def _sync_replication(primary: PgCluster, standby: PgCluster) -> None:
    """Make the standby synchronous: without it an acknowledged direct write can be
    lost in a failover (it was on the primary only), and no gateway can know."""
    with psycopg.connect(primary.url(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        conn.execute("SELECT pg_reload_conf()")

    def synchronous() -> bool:
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            row = conn.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
        return row is not None and row[0] == "sync"

    wait_until(synchronous, 30, "the standby to be a synchronous one")


def _at(event: dict[str, Any]) -> float:
    """The wall-clock time of a log event (structlog's ISO timestamp, UTC)."""
    return datetime.fromisoformat(event["timestamp"]).timestamp()


@pytest.fixture
def pair() -> Iterator[tuple[PgCluster, PgCluster]]:
    """A primary with database `failover` and its synchronous streaming standby (made
    here, outside the test's own time limit)."""
    primary = start_cluster(settings={"synchronous_commit": "on"})
    clusters = [primary]
    try:
        primary.create_database("failover")
        standby = standby_of(primary)
        clusters.append(standby)
        _sync_replication(primary, standby)
        yield primary, standby
    finally:
        for cluster in clusters:
            cluster.destroy()


@pytest.mark.parametrize("old_primary", ["refuses", "hangs"])
async def test_primary_killed_and_standby_promoted_mid_burst(
    tmp_path: Path, old_primary: str, pair: tuple[PgCluster, PgCluster]
) -> None:
    """old_primary: after the crash its port refuses connections (the server is gone,
    the machine is up), or hangs (the machine is frozen: connections are accepted by
    nobody and never answered)."""
    primary, standby = pair
    hung: HungHost | None = None
    listen_back_s = LISTEN_BACK_S + (CONNECT_TIMEOUT_S if old_primary == "hangs" else 0)
    url = (
        f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{primary.port},"
        f"127.0.0.1:{standby.port}/failover?target_session_attrs=read-write"
    )
    rig = Rig(tmp_path, url, wait_s=WAIT_S)
    await rig.seed()  # through the multi-host URL: it lands on the primary
    # On the way out the hung host's socket closes first, then the web and the rig.
    async with contextlib.AsyncExitStack() as closing:
        daemon, web = await closing.enter_async_context(daemon_and_web(rig))

        stop = asyncio.Event()
        crash = asyncio.Event()
        taps_at: list[tuple[float, Tap]] = []  # (wall-clock time of the answer, tap)
        t: dict[str, float] = {}  # wall-clock times, comparable with the logs' timestamps

        def on_tap(tap: Tap) -> None:
            taps_at.append((time.time(), tap))
            if len(rig.taps["entrance"]) >= 200:
                crash.set()

        def spooled_since(mark: int) -> int:
            return sum(
                1
                for e in daemon.since(mark)
                if e.get("event") == "swipe" and e.get("durability") == "spool"
            )

        def direct_writes_after(at: float) -> list[float]:
            return [
                when
                for when, tap in list(taps_at)
                if when > at and tap.status is Status.OK and "offline" not in tap.text.lower()
            ]

        async def operator() -> None:
            await crash.wait()
            # Every LISTEN started after this is on the promoted standby: the old
            # primary is gone and a standby refuses read-write sessions.
            mark = daemon.mark()
            web_mark = len(web_events(web, "live_listen_started"))
            t["crash"] = time.time()
            await asyncio.to_thread(primary.stop, "immediate")
            if old_primary == "hangs":
                nonlocal hung
                hung = closing.enter_context(contextlib.closing(HungHost(primary.port)))
            deadline = Deadline(30, f"{SPOOLED_BEFORE_PROMOTION} taps in the spool")
            while (
                spooled_since(mark) < SPOOLED_BEFORE_PROMOTION or time.time() - t["crash"] < GAP_S
            ):
                deadline.check(f"{spooled_since(mark)} so far")
                await asyncio.sleep(0.05)
            t["spooled_in_gap"] = spooled_since(mark)
            t["promote"] = time.time()
            await asyncio.to_thread(standby.promote)
            t["promoted"] = time.time()

            card = await asyncio.to_thread(daemon.wait_event, "card_listen_started", 30, after=mark)
            t["card_listen"] = _at(card)
            back = await asyncio.to_thread(daemon.wait_event, "database_back", 30, after=mark)
            t["database_back"] = _at(back)  # the drainer's first commit on the new primary

            def live_back() -> list[dict[str, Any]]:
                return web_events(web, "live_listen_started")[web_mark:]

            await asyncio.to_thread(wait_until, live_back, 30, "the web's LISTEN, promoted")
            t["live_listen"] = _at(live_back()[0])
            deadline = Deadline(30, "a direct write after the promotion")
            while not direct_writes_after(t["promote"]):
                deadline.check()
                await asyncio.sleep(0.02)
            t["direct"] = direct_writes_after(t["promote"])[0]
            t["spooled"] = spooled_since(mark)
            # Keep tapping a little on the new primary, then stop.
            after = len(taps_at)
            deadline = Deadline(30, "100 more taps on the new primary")
            while len(taps_at) < after + 100:
                deadline.check()
                await asyncio.sleep(0.05)
            stop.set()

        started = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(
                rig.burst("entrance", until=stop, on_tap=on_tap),
                rig.burst("exit", until=stop, on_tap=on_tap),
                operator(),
            ),
            timeout=90,
        )
        burst_s = time.monotonic() - started
        await rig.wait_drained(30)
        assert daemon.find("database_back"), "the daemon never said the database was back"
        assert await rig.stop_daemon() == 0  # a clean stop seals what is left
        if hung is not None:
            hung.close()  # the test's own checks below connect without a timeout

        # Checked on the promoted database (the only one running).
        figures = rig.verify()
        assert figures.refused == 0 and figures.gave_up == 0, figures.line()
        assert figures.acknowledged == figures.taps
        verify = await asyncio.to_thread(run_cli, "register", "verify", "--config", str(rig.config))
        assert verify.returncode == 0, verify.stdout + verify.stderr
        with psycopg.connect(standby.url("failover")) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        assert row == (False,)

        # Measured from the end of `pg_ctl promote` (it polls: the server may be a
        # primary a little earlier, so a figure can be slightly negative).
        for name in ("card_listen", "live_listen"):
            assert t[name] - t["promoted"] < listen_back_s, f"{name} took too long: {t}"
        figures.extra |= {
            "gap_s": round(t["promoted"] - t["crash"], 2),
            "promote_s": round(t["promoted"] - t["promote"], 2),
            "spooled_in_gap": t["spooled_in_gap"],
            "spooled": t["spooled"],
            "database_back_after_promotion_s": round(t["database_back"] - t["promoted"], 2),
            "first_direct_write_after_promotion_s": round(t["direct"] - t["promoted"], 2),
            "card_listen_back_s": round(t["card_listen"] - t["promoted"], 2),
            "live_listen_back_s": round(t["live_listen"] - t["promoted"], 2),
            "burst_s": round(burst_s, 2),
            "max_latency_ms": round(max(tap.latency_s for _, tap in taps_at) * 1e3),
        }
        report(f"failover_old_primary_{old_primary}", figures)
