"""A database password with a space, '%', '/', ':', '?', '#' and '@' (issue 24 item 1).

The daemon, as a real subprocess, must record taps by the fast path (not the spool)
and LISTEN for card changes with it; and when the server cannot be reached, no log
line may hold the password, raw or percent-encoded. It once leaked in 29 lines in
12 s: the libpq string was the URL rendered back with the password unescaped.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from bench.kit.harness import DaemonProcess, seed, write_config
from bench.kit.pgcluster import PgCluster
from gateway.emulator import VirtualReader
from gateway.protocol import Status
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

PASSWORD = "p@ss w%rd/:?#X"
ENCODED = quote(PASSWORD, safe="")  # p%40ss%20w%25rd%2F%3A%3F%23X
ANA = bytes.fromhex("04A1B2C3")


def _leaks(lines: list[str]) -> list[str]:
    return [line for line in lines if PASSWORD in line or ENCODED in line]


async def test_the_fast_path_and_listen_work_and_nothing_leaks(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    dbname = f"tricky_{time.monotonic_ns()}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS tricky")  # a rerun in the same cluster
        conn.execute(
            psycopg.sql.SQL("CREATE ROLE tricky LOGIN PASSWORD {}").format(
                psycopg.sql.Literal(PASSWORD)
            )
        )
        conn.execute(f'CREATE DATABASE "{dbname}" OWNER tricky')
    # Through a proxy, so the test can take the database away from a running daemon.
    proxy = TcpProxy("127.0.0.1", pg_cluster.port)
    await proxy.start()
    url = f"postgresql://tricky:{ENCODED}@127.0.0.1:{proxy.port}/{dbname}"
    await asyncio.to_thread(seed, url, [("ana", "Ana", "04A1B2C3")])
    config = write_config(
        tmp_path / "config.toml",
        database_url=url,
        state_dir=tmp_path / "state",
        readers=[("entrance", str(tmp_path / "entrance"), "in")],
        gateway={"duplicate_window_s": 0},
    )
    reader = VirtualReader("in", name="t-entrance", link_path=tmp_path / "entrance")
    await reader.start()
    daemon = DaemonProcess(config)
    try:
        await asyncio.to_thread(daemon.start)
        await asyncio.to_thread(daemon.wait_ready, 60)
        await reader.wait_online(30)
        await asyncio.to_thread(daemon.wait_event, "card_listen_started", 20)
        taps = [await reader.tap(ANA) for _ in range(5)]
        assert [t.status for t in taps] == [Status.OK] * 5
        assert not [t.text for t in taps if "offline" in t.text.lower()]  # not the spool
        assert not daemon.find("database_unavailable") and not daemon.find("card_listen_failed")
        with psycopg.connect(pg_cluster.url(dbname), autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM clock_events").fetchone()
        assert row == (5,)

        # The database goes away: each failure is logged, none with the password.
        await proxy.cut()
        offline = await reader.tap(ANA)
        assert offline.status is Status.OK and "offline" in offline.text.lower()
        await asyncio.to_thread(daemon.wait_event, "database_unavailable", 30)
        await asyncio.to_thread(daemon.wait_event, "card_listen_failed", 30)
        await proxy.restore()
    finally:
        await asyncio.to_thread(daemon.stop)
        await reader.close()
        await proxy.close()
    assert daemon.stderr_lines and not _leaks(daemon.stderr_lines), _leaks(daemon.stderr_lines)[:3]
