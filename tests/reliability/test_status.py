"""The status file and `clock-gateway status` (run as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.kit.harness import run_cli
from gateway.errors import ExitCode
from gateway.recording.recorder import RecorderStats
from gateway.status import (
    FILE_NAME,
    DaemonState,
    ReaderStatus,
    StatusFileError,
    StatusSnapshot,
    daemon_state,
    read_status,
    snapshot_of,
    write_status,
)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
READER = ReaderStatus(
    name="entrance",
    port="/dev/serial/by-id/usb-entrance",
    role="in",
    link_state="up",
    since=NOW - timedelta(minutes=5),
    hardware_id="0102030405060708",
    firmware="1.0.0",
    last_swipe_at=NOW - timedelta(seconds=30),
    last_swipe="recorded",
)
STATS = RecorderStats(
    spool_depth=12,
    spool_max=1000,
    dead_letters=1,
    last_db_write_at=NOW - timedelta(minutes=2),
    directory_age_s=42.0,
    directory_cards=7,
    database_ok=False,
    unknown_pending=0,
)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(60)
    return proc.pid


def test_round_trip(tmp_path: Path) -> None:
    snap = snapshot_of(NOW - timedelta(hours=1), (READER,), STATS)
    write_status(tmp_path, snap)
    back = read_status(tmp_path)
    assert back is not None
    assert back.readers == (READER,)
    assert (back.spool_depth, back.dead_letters, back.directory_cards) == (12, 1, 7)
    assert back.last_db_write_at == STATS.last_db_write_at and not back.database_ok
    assert back.pid == os.getpid() and back.stopped_at is None
    assert not list(tmp_path.glob(".*tmp"))


def test_liveness(tmp_path: Path) -> None:
    snap = StatusSnapshot(pid=os.getpid(), started_at=NOW, updated_at=NOW)
    assert daemon_state(snap, NOW + timedelta(seconds=2)) is DaemonState.RUNNING
    assert daemon_state(snap, NOW + timedelta(seconds=60)) is DaemonState.NOT_RESPONDING
    assert daemon_state(replace(snap, pid=dead_pid()), NOW) is DaemonState.GONE
    assert daemon_state(replace(snap, stopped_at=NOW), NOW) is DaemonState.STOPPED


def test_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    assert read_status(tmp_path) is None
    (tmp_path / FILE_NAME).write_text('{"format": 1, "pid": "x"}')
    with pytest.raises(StatusFileError, match="not a valid status file"):
        read_status(tmp_path)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[gateway]\nstate_dir = "{tmp_path / "state"}"\n')
    result: subprocess.CompletedProcess[str] = run_cli("status", "--config", str(config), *args)
    return result


def test_cli_without_a_daemon(tmp_path: Path) -> None:
    result = _cli(tmp_path)
    assert result.returncode == ExitCode.NOT_FOUND
    assert "not running" in result.stdout and result.stderr == ""


def test_cli_running_daemon_and_json(tmp_path: Path) -> None:
    # This test process plays the daemon: its pid is alive and the file is fresh.
    write_status(tmp_path / "state", snapshot_of(NOW, (READER,), STATS))
    result = _cli(tmp_path)
    assert result.returncode == ExitCode.OK, result.stderr
    out = result.stdout
    assert "is running" in out and "12 swipe(s) waiting" in out and "UNAVAILABLE" in out
    assert "entrance" in out and "/dev/serial/by-id/usb-entrance" in out
    assert "7 card(s), refreshed 42.0 s ago" in out
    data = json.loads(_cli(tmp_path, "--json").stdout)
    assert data["state"] == "running"
    assert data["status"]["spool_depth"] == 12
    assert data["status"]["readers"][0]["link_state"] == "up"


def test_cli_crashed_daemon_shows_last_known_state(tmp_path: Path) -> None:
    snap = replace(snapshot_of(NOW, (READER,), STATS), pid=dead_pid())
    write_status(tmp_path / "state", snap)
    result = _cli(tmp_path)
    assert result.returncode == ExitCode.NOT_FOUND
    assert "is gone" in result.stdout and "12 swipe(s) waiting" in result.stdout
    stopped = replace(snap, stopped_at=NOW)
    write_status(tmp_path / "state", stopped)
    result = _cli(tmp_path, "--json")
    assert result.returncode == ExitCode.NOT_FOUND
    assert json.loads(result.stdout)["state"] == "stopped"


def test_cli_damaged_file(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / FILE_NAME).write_text("{")
    result = _cli(tmp_path)
    assert result.returncode == ExitCode.FAILURE
    assert result.stderr.startswith("clock-gateway: error:") and "Traceback" not in result.stderr
