"""`clock-gateway backup` and `restore` on both backends: what comes back is what was saved."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.cli.main import main
from gateway.domain import UnknownSwipe
from gateway.durable.spool import Spool
from gateway.store.audit import Actor
from gateway.store.engine import normalise_url
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores
from gateway.store.tables import metadata
from tests.reliability.support import make_event

CARDS = {"ana": "04A1B2C3", "bea": "04112233445566", "cid": "04C1D1E1"}


def write_config(tmp_path: Path, url: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        f"[gateway]\nstate_dir = {json.dumps(str(tmp_path / 'state'))}\n\n"
        f"[database]\nurl = {json.dumps(url)}\n",
        encoding="utf-8",
    )
    return path


async def seed(url: str, first_event: int, count: int) -> None:
    stores = Stores.open(url)
    try:
        await stores.db.init_schema()
        for uid, card in CARDS.items():
            if await stores.swipes.find_person_by_card(card) is None:
                await stores.lifecycle.add_person(uid, uid.title(), Actor.cli())
                await stores.lifecycle.assign_card(card, uid, Actor.cli())
        await stores.swipes.record_events(
            [make_event(n, person="bea") for n in range(first_event, first_event + count)]
        )
        await stores.swipes.record_unknown(
            UnknownSwipe("DEADBEEF", "entrance", None, datetime(2026, 11, 28, 9, tzinfo=UTC))
        )
        await stores.timetable.replace_timetable(
            [TimetableEntry("ana", 1, time(8), time(14), "A1")]
        )
    finally:
        await stores.close()


async def fill_spool(state: Path, first: int, count: int) -> None:
    spool = Spool(state / "spool")
    await spool.open()
    try:
        for n in range(first, first + count):
            await spool.append(make_event(n, reader="exit", person="cid"))
    finally:
        await spool.close()


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in primary-key order."""
    parsed = normalise_url(url)
    sync = parsed.set(
        drivername="sqlite" if parsed.get_backend_name() == "sqlite" else parsed.drivername
    )
    engine = sa.create_engine(sync)
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    tuple(row)
                    for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                ]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def state_bytes(state: Path) -> dict[str, bytes]:
    """The spool's files and the card directory, byte for byte (not the lock)."""
    return {
        p.relative_to(state).as_posix(): p.read_bytes()
        for p in sorted(state.rglob("*"))
        if p.is_file()
        and p.name != "lock"
        and p.name != "status.json"
        and not p.relative_to(state).as_posix().startswith("spool.before-restore")
    }


def cli(*args: str) -> int:
    return main(list(args))


def test_restore_brings_back_the_database_the_spool_and_the_directory(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, db_url)
    state = tmp_path / "state"
    asyncio.run(seed(db_url, 0, 40))
    asyncio.run(fill_spool(state, 0, 25))
    (state / "card-directory.json").write_text('{"cards": "as saved"}')
    saved, saved_state = snapshot(db_url), state_bytes(state)
    assert len(saved["clock_events"]) == 40 and len(saved["people"]) == 3
    assert any(name.startswith("spool/seg-") for name in saved_state)

    backup = tmp_path / "backup"
    capsys.readouterr()  # the seeding's own log lines
    assert cli("backup", str(backup), "--config", str(config), "--json") == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["backend"] in ("sqlite", "postgresql")
    assert "test-secret" not in json.dumps(manifest)  # the cluster's password

    # Life goes on after the backup: more events, the spool replayed, a new directory.
    asyncio.run(seed(db_url, 1000, 7))
    asyncio.run(fill_spool(state, 100, 3))
    for segment in (state / "spool").glob("seg-*"):
        segment.write_bytes(segment.read_bytes()[:10])
    (state / "card-directory.json").write_text('{"cards": "newer"}')
    assert snapshot(db_url) != saved

    capsys.readouterr()
    assert cli("restore", str(backup), "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert "kept in" in out  # the spool that was there is set aside, not deleted
    assert snapshot(db_url) == saved
    assert state_bytes(state) == saved_state
    assert list(state.glob("spool.before-restore-*/seg-*"))


@pytest.mark.postgres
def test_a_postgresql_backup_restores_into_a_new_empty_database(
    pg_url: str, pg_cluster: Any, tmp_path: Path
) -> None:
    asyncio.run(seed(pg_url, 0, 30))
    backup = tmp_path / "backup"
    assert cli("backup", str(backup), "--config", str(write_config(tmp_path, pg_url))) == 0
    fresh = pg_cluster.create_database(f"restored_{os.getpid()}")
    other = tmp_path / "other"
    other.mkdir()
    assert cli("restore", str(backup), "--config", str(write_config(other, fresh))) == 0
    assert snapshot(fresh) == snapshot(pg_url)


def test_restore_refuses_while_the_daemon_holds_the_spool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    config = write_config(tmp_path, url)
    asyncio.run(seed(url, 0, 3))
    assert cli("backup", str(tmp_path / "b"), "--config", str(config)) == 0
    lock = tmp_path / "state" / "spool" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a running daemon's spool does
        capsys.readouterr()
        assert cli("restore", str(tmp_path / "b"), "--config", str(config)) == 5
    finally:
        os.close(fd)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stop it first" in err and "Traceback" not in err


def test_a_damaged_or_foreign_backup_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    config = write_config(tmp_path, url)
    asyncio.run(seed(url, 0, 3))
    backup = tmp_path / "b"
    assert cli("backup", str(backup), "--config", str(config)) == 0
    assert cli("backup", str(backup), "--config", str(config)) == 2  # not empty: no overwrite
    (backup / "database.sqlite").write_bytes(b"changed")
    assert cli("restore", str(backup), "--config", str(config)) == 7
    assert cli("restore", str(tmp_path), "--config", str(config)) == 7  # no manifest
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["clock-gateway"] * 3
    assert "changed since the backup" in err[1] and "not a clock-gateway backup" in err[2]
