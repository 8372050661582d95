"""Issue 13 item 1 as a fault test with real processes: the state directory is deleted
under a running daemon while PostgreSQL is down. Every tap after that must be KO (the
spool's files are gone), never "Saved offline"."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from bench.kit.pgcluster import PgCluster
from bench.kit.rig import Figures, Rig, report
from gateway.protocol import Status

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.postgres]


async def test_state_dir_deleted_with_postgres_down_is_ko(
    own_cluster: PgCluster, own_pg_url: str, tmp_path: Path
) -> None:
    rig = Rig(tmp_path, own_pg_url, wait_s=0.5)
    await rig.seed()
    await rig.start_readers()
    try:
        daemon = await rig.start_daemon()
        # The card directory must be loaded before the database goes: a daemon that
        # never saw it answers "Unknown card", rightly, and this test is not about that.
        await asyncio.to_thread(daemon.wait_event, "directory_refreshed", 60)
        await asyncio.to_thread(own_cluster.stop)
        before = [await rig.tap("entrance") for _ in range(3)]
        assert all(t.status is Status.OK for t in before)  # spooled: "Saved offline"
        shutil.rmtree(rig.state)
        after = [await rig.tap("entrance") for _ in range(20)]
        await asyncio.to_thread(own_cluster.start)
        # Give the daemon time to store anything it (wrongly) still held.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not rig.log_events("database_back"):
            await asyncio.sleep(0.2)
        stored = {key for key, _ in rig.rows()}
        ok_after = [t for t in after if t.status is Status.OK]
        lost_after = [t for t in ok_after if t.key not in stored]
        assert lost_after == [], f"{len(lost_after)} taps answered OK were lost"
        assert all(t.status is Status.KO for t in after), [t.text for t in after]
        assert rig.log_events("spool_file_gone")
        figures = Figures(
            taps=len(after),
            acknowledged=len(ok_after),
            refused=sum(t.status is Status.KO for t in after),
            gave_up=sum(t.status is None for t in after),
            rows=sum(t.key in stored for t in after),
            lost=len(lost_after),
        )
        figures.extra |= {
            "before_deletion_ok": len(before),
            "before_deletion_stored": sum(t.key in stored for t in before),
            "ko_text": after[0].text,
        }
        report("state_dir_deleted_postgres_down", figures)
    finally:
        await rig.close()
