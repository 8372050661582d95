"""The daemon as a real subprocess, readers on PTYs, real PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.protocol import Role, Status
from tests.e2e.harness import DaemonProcess, PtyReader, seed, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ANA = bytes.fromhex("04A1B2C3")
BEA = bytes.fromhex("04112233445566")
NOBODY = bytes.fromhex("DEADBEEF")


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


@pytest.fixture
def setup(tmp_path: Path, pg_url: str) -> Iterator[tuple[DaemonProcess, PtyReader, PtyReader]]:
    seed(pg_url, [("ana", "Ana Núñez", "04A1B2C3"), ("bea", "Bea", "04112233445566")])
    entrance = PtyReader(tmp_path, "entrance", Role.IN).plug()
    exit_ = PtyReader(tmp_path, "exit", Role.OUT).plug()
    cfg = write_config(
        tmp_path / "config.toml",
        database_url=pg_url,
        state_dir=tmp_path / "state",
        readers=[("entrance", entrance.port, "in"), ("exit", exit_.port, "out")],
        gateway={"duplicate_window_s": 2.0},
    )
    with DaemonProcess(cfg) as daemon:
        daemon.wait_ready()
        entrance.wait_online()
        exit_.wait_online()
        yield daemon, entrance, exit_
        assert daemon.stop() == 0
    entrance.close()
    exit_.close()


def test_in_and_out_recorded(
    setup: tuple[DaemonProcess, PtyReader, PtyReader], pg_url: str
) -> None:
    daemon, entrance, exit_ = setup
    r_in = entrance.swipe(ANA)
    assert (r_in.status, r_in.text) == (Status.OK, "In - Ana Nunez")
    r_out = exit_.swipe(BEA)
    assert (r_out.status, r_out.text) == (Status.OK, "Out - Bea")
    got = rows(
        pg_url, "SELECT person_uid, direction, reader, outcome FROM clock_events ORDER BY id"
    )
    assert got == [("ana", "in", "entrance", "recorded"), ("bea", "out", "exit", "recorded")]
    event = daemon.wait_event("swipe", reader="entrance")
    assert event["person_uid"] == "ana" and event["outcome"] == "recorded"
    assert event["durability"] == "database" and event["latency_ms"] >= 0
