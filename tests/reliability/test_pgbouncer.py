"""The daemon and the web behind a real PgBouncer in transaction mode (issue 24 item 19).

Debian 12's PgBouncer is 1.18: it does not carry protocol-level prepared statements
across its server connections (that came in 1.21, `max_prepared_statements`), so with
`[database] pooler = "pgbouncer"` nothing is prepared on the server, and LISTEN, which
a transaction-mode pooler cannot carry, goes to `[database] listen_url`, a direct
session. The first test shows why on the bare driver; the second runs the daemon
(emulated readers on PTYs), the web's board, a spool replay after the pooler was
restarted, an export and `register verify`, all through the pooler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from bench.kit.harness import run_cli, seed
from bench.kit.pgbouncer import PgBouncer
from bench.kit.pgcluster import PgCluster
from bench.kit.rig import PEOPLE, Rig, Tap, report
from gateway.config import DatabaseConfig
from gateway.protocol import Status
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from tests.reliability.live_stack import daemon_and_web, web_events
from tests.support.wait import Deadline

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WAIT_S = 0.5
PER_READER = 150  # taps per reader before and after the pooler's restart


def _fresh_database(cluster: PgCluster, prefix: str) -> str:
    name = f"{prefix}_{time.monotonic_ns()}"
    cluster.create_database(name)
    return name


def test_server_side_prepares_break_through_transaction_pooling(pg_cluster: PgCluster) -> None:
    """Why the flag exists: two clients on one server connection (pool size 1), each
    preparing its statement, collide on psycopg's statement name; unprepared, they do not."""
    dbname = _fresh_database(pg_cluster, "bouncer_prep")
    bouncer = PgBouncer(pg_cluster, pool_size=1).start()
    try:
        with (
            psycopg.connect(bouncer.url(dbname), autocommit=True) as a,
            psycopg.connect(bouncer.url(dbname), autocommit=True) as b,
        ):
            a.execute("SELECT 1", prepare=True)
            with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
                b.execute("SELECT 1", prepare=True)
        with (
            psycopg.connect(bouncer.url(dbname), autocommit=True, prepare_threshold=None) as a,
            psycopg.connect(bouncer.url(dbname), autocommit=True, prepare_threshold=None) as b,
        ):
            for _ in range(10):  # past psycopg's default threshold of 5
                assert a.execute("SELECT 1", prepare=False).fetchone() == (1,)
                assert b.execute("SELECT 1", prepare=False).fetchone() == (1,)
    finally:
        bouncer.stop()


def _listen_sessions(direct: str) -> tuple[int, int]:
    """(LISTEN sessions from TCP clients, i.e. direct; LISTEN sessions from PgBouncer,
    which reaches the server over its Unix socket)."""
    with psycopg.connect(direct, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE client_addr IS NOT NULL),"
            " count(*) FILTER (WHERE client_addr IS NULL)"
            " FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
            " AND datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def test_daemon_and_web_through_pgbouncer_in_transaction_mode(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    dbname = _fresh_database(pg_cluster, "bouncer")
    direct = pg_cluster.url(dbname)
    # Three server connections for the daemon's swipe lanes, its pool, its sealer and
    # the web: clients take turns on them, as hundreds of gateways would.
    # On the way out: the web, the rig, then the pooler.
    async with contextlib.AsyncExitStack() as closing:
        bouncer = PgBouncer(pg_cluster, pool_size=3).start()
        closing.callback(bouncer.stop)
        url = bouncer.url(dbname)
        await asyncio.to_thread(seed, direct, PEOPLE)
        rig = Rig(tmp_path, url, wait_s=WAIT_S)
        text = rig.config.read_text().replace(
            f"wait_s = {WAIT_S}\n",
            f'wait_s = {WAIT_S}\npooler = "pgbouncer"\nlisten_url = {json.dumps(direct)}\n',
        )
        rig.config.write_text(text)
        daemon, web = await closing.enter_async_context(daemon_and_web(rig))
        await asyncio.to_thread(daemon.wait_event, "directory_refreshed", 30)
        # Both LISTENs on direct sessions, none through the pooler.
        direct_listens, pooled_listens = await asyncio.to_thread(_listen_sessions, direct)
        assert (direct_listens, pooled_listens) == (2, 0)

        # Swipes through the pooler, by the fast path (not one to the spool).
        taps: list[Tap] = []
        await asyncio.gather(
            rig.burst("entrance", PER_READER, on_tap=taps.append),
            rig.burst("exit", PER_READER, on_tap=taps.append),
        )
        assert all(t.status is Status.OK for t in taps)
        offline = [t for t in taps if "offline" in t.text.lower()]
        assert not offline, f"{len(offline)} taps went to the spool: {offline[:2]}"
        assert not daemon.find("database_unavailable"), daemon.find("database_unavailable")[:2]
        assert not web_events(web, "live_refresh_failed")

        # A card change made through the pooler reaches the daemon by NOTIFY (a
        # refresh long before the periodic one, 60 s away).
        mark = daemon.mark()
        stores = Stores.open(DatabaseConfig(url=url, pooler="pgbouncer"))
        try:
            await stores.lifecycle.add_person("cai", "Cai", Actor.cli())
            await stores.lifecycle.assign_card("04CAFE01", "cai", Actor.cli())
        finally:
            await stores.close()
        refreshed = await asyncio.to_thread(
            daemon.wait_event, "directory_refreshed", 15, after=mark
        )
        assert refreshed["cards"] == 3

        # The pooler restarts mid-burst: the taps go to the spool, and the spool is
        # replayed through the pooler once it is back.
        stop = asyncio.Event()
        bounced: dict[str, float] = {}

        async def restart_pooler() -> None:
            deadline = Deadline(30, "taps before the pooler's restart")
            while len(taps) < 2 * PER_READER + 50:
                deadline.check()
                await asyncio.sleep(0.02)
            mark = daemon.mark()
            await asyncio.to_thread(bouncer.halt)
            bounced["halted"] = time.monotonic()
            await asyncio.to_thread(daemon.wait_event, "database_unavailable", 30, after=mark)
            deadline = Deadline(30, "taps spooled while the pooler is down")
            while sum(1 for t in taps[-50:] if "offline" in t.text.lower()) < 20:
                deadline.check()
                await asyncio.sleep(0.02)
            await asyncio.to_thread(bouncer.start)
            bounced["started"] = time.monotonic()
            deadline = Deadline(30, "taps on the fast path after the restart")
            while not [t for t in taps[-5:] if "offline" not in t.text.lower()]:
                deadline.check()
                await asyncio.sleep(0.02)
            stop.set()

        await asyncio.wait_for(
            asyncio.gather(
                rig.burst("entrance", until=stop, on_tap=taps.append),
                rig.burst("exit", until=stop, on_tap=taps.append),
                restart_pooler(),
            ),
            timeout=90,
        )
        drain_s = await rig.wait_drained(30)
        figures = rig.verify()  # the rows read through the pooler
        assert figures.acknowledged == figures.taps and figures.refused == 0
        spooled = len(rig.log_events("swipe", durability="spool"))
        assert spooled >= 20

        # The board (the web, through the pooler) shows who came in.
        with urllib.request.urlopen(f"{web.url}/", timeout=15) as response:
            page = response.read().decode()
        assert response.status == 200 and "Ana" in page
        # An export and the seal check, through the pooler too.
        assert await rig.stop_daemon() == 0
        export = await asyncio.to_thread(
            run_cli,
            "events",
            "export",
            "--config",
            str(rig.config),
            "--format",
            "jsonl",
            "--settle",
            "0",
        )
        assert export.returncode == 0, export.stderr
        assert len(export.stdout.splitlines()) == figures.rows
        verify = await asyncio.to_thread(run_cli, "register", "verify", "--config", str(rig.config))
        assert verify.returncode == 0, verify.stdout + verify.stderr
        figures.extra |= {
            "spooled": spooled,
            "pooler_down_s": round(bounced["started"] - bounced["halted"], 2),
            "drain_after_s": round(drain_s, 2),
            "exported": len(export.stdout.splitlines()),
        }
        report("pgbouncer_transaction_mode", figures)
