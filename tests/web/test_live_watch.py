"""The SQLite board hears another process's commit through inotify, not a poll."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.store.stores import Stores
from gateway.web import live
from tests.reports.helpers import clock, local, seeded
from tests.support.wait import Deadline, wait_until_async


async def test_a_commit_by_another_connection_pokes_the_hub_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The safety poll out of the way: only the write watch can poke within the wait.
    monkeypatch.setattr(live, "SAFETY_POLL_S", 3600.0)
    monkeypatch.setattr(live, "POLL_S", 3600.0)
    path = tmp_path / "gateway.db"
    stores = await seeded(f"sqlite:///{path}")
    writer = Stores.open(f"sqlite:///{path}")  # another connection, as the daemon's
    hub = live.Hub()
    hub.start(live.sqlite_watcher(path, hub))
    try:
        # Until the watcher has read its first data_version, a commit may pass unseen:
        # commit until one is heard, then every further commit must be.
        deadline = Deadline(10, "the watcher's first poke")
        while hub.changes == 0:
            await writer.swipes.record_events([clock("ana", "in", local("2026-11-23", "09:00"))])
            await asyncio.sleep(0.05)
            deadline.check()
        for k in range(3):
            before = hub.changes
            at = local("2026-11-23", f"10:0{k}")
            await writer.swipes.record_events([clock("ana", "out" if k % 2 else "in", at)])
            await wait_until_async(lambda b=before: hub.changes > b, 10, f"the poke for commit {k}")
    finally:
        await hub.stop()
        await writer.close()
        await stores.close()


async def test_a_commit_the_board_does_not_read_wakes_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The register's sealer and the gateways' heartbeats commit every few seconds: a
    # commit that moves no event, unknown card or signature must not recompute.
    monkeypatch.setattr(live, "SAFETY_POLL_S", 0.05)
    path = tmp_path / "gateway.db"
    stores = await seeded(f"sqlite:///{path}")
    hub = live.Hub()
    hub.start(live.sqlite_watcher(path, hub))
    try:
        await asyncio.sleep(0.3)  # the watcher's first look
        before = hub.changes
        deadline = Deadline(10, "a skipped commit")
        while hub.skipped == 0:
            async with stores.db.tx() as conn:  # a table neither page reads
                await conn.execute(text("CREATE TABLE IF NOT EXISTS scratch (x INTEGER)"))
                await conn.execute(text("INSERT INTO scratch VALUES (1)"))
            await asyncio.sleep(0.1)
            deadline.check()
        assert hub.changes == before
    finally:
        await hub.stop()
        await stores.close()
