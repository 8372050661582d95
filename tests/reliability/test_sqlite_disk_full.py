"""SQLite on a tiny disk: the database, its WAL and the spool share one filesystem
(issue 24, item 11). While it is full every tap is an honest KO; once space comes back
taps are OK again without a restart, every acknowledged tap is stored once, and the
sealer catches up so that `register verify` passes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.kit.harness import run_cli
from bench.kit.rig import Rig, Tap, report
from gateway.protocol import Status
from tests.reliability.support import tmpfs
from tests.support.wait import Deadline


class SqliteRig(Rig):
    def __init__(self, tmp_path: Path, db: Path, state: Path) -> None:
        super().__init__(tmp_path, f"sqlite:///{db}", state_dir=state, wait_s=0.5)
        self.db = db

    def rows(self) -> list[tuple[uuid.UUID, str]]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            got = conn.execute("SELECT event_key, reader FROM clock_events ORDER BY id")
            return [(uuid.UUID(str(k)), str(r)) for k, r in got]
        finally:
            conn.close()


def _fill(path: Path, leave: int = 0) -> None:
    """Write until the filesystem refuses, then give back `leave` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    if leave:
        os.truncate(path, max(0, os.path.getsize(path) - leave))


async def _full_then_back(
    tmp_path: Path, name: str, fill: Callable[[SqliteRig, Path], None], release: Callable[[], None]
) -> None:
    disk = tmp_path / "disk"
    with tmpfs(disk, "4m"):
        rig = SqliteRig(tmp_path, disk / "clock.db", disk / "state")
        await rig.seed()
        await rig.start_readers()
        try:
            await rig.start_daemon()
            await asyncio.gather(rig.burst("entrance", 10), rig.burst("exit", 10))
            assert rig.acked() == 20

            filler = disk / "filler"
            await asyncio.to_thread(fill, rig, filler)
            refused = 0

            def count(tap: Tap) -> None:
                nonlocal refused
                refused += tap.status is Status.KO

            full_by = Deadline(60, "taps to be refused on the full disk")
            while refused < 10:
                await rig.burst("entrance", 1, on_tap=count)
                full_by.check(f"{len(rig.taps['entrance'])} taps, {refused} KO")
            ok_before_full = rig.acked() - 20
            held = asyncio.Event()
            asyncio.get_running_loop().call_later(2.0, held.set)  # full for 2 s more
            await asyncio.gather(rig.burst("entrance", until=held), rig.burst("exit", until=held))
            assert rig.log_events("swipe_not_stored", reason="disk_full")
            wal = os.path.getsize(f"{rig.db}-wal")

            release()
            filler.unlink()  # space comes back
            back = Deadline(60, "a tap to be OK again once space came back")
            while (tap := await rig.tap("exit")).status is not Status.OK:
                back.check(f"the last answer was {tap.text!r}")
                await asyncio.sleep(0.2)
            await asyncio.gather(rig.burst("entrance", 10), rig.burst("exit", 10))
            assert all(t.status is Status.OK for t in rig.taps["exit"][-10:])
            await rig.wait_drained(60)
            figures = rig.verify()

            sealed_by = Deadline(90, "the register to verify once space came back")
            while True:
                done = await asyncio.to_thread(
                    run_cli, "register", "verify", "--config", str(rig.config)
                )
                if done.returncode == 0:
                    break
                sealed_by.check((done.stdout + done.stderr)[-400:])
                await asyncio.sleep(1)
            figures.extra |= {"ok_before_full": ok_before_full, "wal_bytes_when_full": wal}
            report(name, figures)
            assert await rig.stop_daemon() == 0
        finally:
            await rig.close()


async def test_full_disk_then_space_again(tmp_path: Path) -> None:
    await _full_then_back(tmp_path, "sqlite_disk_full", lambda rig, f: _fill(f), lambda: None)


async def test_wal_fills_disk_behind_a_reader(tmp_path: Path) -> None:
    """A long read transaction (a report, a backup) keeps the WAL from being reset, so
    the WAL itself grows into the last 1.5 MB of the disk."""
    held: list[sqlite3.Connection] = []

    def fill(rig: SqliteRig, filler: Path) -> None:
        _fill(filler, leave=1_500_000)
        reader = sqlite3.connect(str(rig.db), timeout=10, check_same_thread=False)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM clock_events").fetchone()
        held.append(reader)

    def release() -> None:
        for conn in held:
            conn.rollback()
            conn.close()

    await _full_then_back(tmp_path, "sqlite_wal_fills_disk", fill, release)
