"""Start, stop, reload and systemd notifications of the daemon subprocess."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.kit.harness import DaemonProcess, PtyReader, run_cli, seed, write_config
from gateway.clocking.messages import Messages
from gateway.errors import ExitCode
from gateway.protocol import Heartbeat, Role, Status
from gateway.status import read_status

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ANA = bytes.fromhex("04A1B2C3")


def test_bad_configuration_is_refused_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[gateway]\nduplicate_window_s = "soon"\n')
    result = run_cli("run", "--config", str(cfg))
    assert result.returncode == ExitCode.CONFIG
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"clock-gateway: error: {cfg}: gateway.duplicate_window_s: "
        "must be an integer or a number, got a string 'soon'"
    ]


def test_unreachable_database_at_first_start_is_a_clear_error(tmp_path: Path, pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    cfg = write_config(tmp_path / "c.toml", database_url=url, state_dir=tmp_path / "state")
    result = run_cli("run", "--config", str(cfg))
    assert result.returncode == ExitCode.DB_UNAVAILABLE
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("clock-gateway: error: ") and "no_such_database" in last
    assert "test-secret" not in result.stderr and "Traceback" not in result.stderr


def test_sigterm_finishes_and_exits_zero_with_notify(tmp_path: Path, pg_url: str) -> None:
    seed(pg_url, [("ana", "Ana", "04A1B2C3")])
    reader = PtyReader(tmp_path, "entrance", Role.IN).plug()
    cfg = write_config(
        tmp_path / "c.toml",
        database_url=pg_url,
        state_dir=tmp_path / "state",
        readers=[("entrance", reader.port, "in")],
    )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"}
    daemon = DaemonProcess(cfg, env=env).start()
    try:
        daemon.wait_ready()
        reader.wait_online()
        assert reader.swipe(ANA).status == Status.OK
        messages = _collect(sock, until=lambda got: got.count("WATCHDOG=1") >= 3, timeout=5)
        assert "READY=1" in messages
        assert any(m.startswith("STATUS=") and "entrance" in m for m in messages)
        status = read_status(tmp_path / "state")
        assert status is not None and [r.name for r in status.readers] == ["entrance"]
        started = time.monotonic()
        assert daemon.stop(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert "STOPPING=1" in _collect(sock, until=lambda got: "STOPPING=1" in got, timeout=2)
        daemon.wait_event("link_stopped", reader="entrance")
        daemon.wait_event("daemon_stopped")
        final = read_status(tmp_path / "state")
        assert final is not None and final.stopped_at is not None
    finally:
        daemon.kill()
        reader.close()
        sock.close()


def test_sighup_adds_a_reader_and_keeps_the_others(tmp_path: Path, pg_url: str) -> None:
    seed(pg_url, [("ana", "Ana", "04A1B2C3")])
    entrance = PtyReader(tmp_path, "entrance", Role.IN).plug()
    side = PtyReader(tmp_path, "side", Role.IN).plug()
    state = tmp_path / "state"
    cfg = write_config(
        tmp_path / "c.toml",
        database_url=pg_url,
        state_dir=state,
        readers=[("entrance", entrance.port, "in")],
    )
    with DaemonProcess(cfg) as daemon:
        daemon.wait_ready()
        entrance.wait_online()
        # An invalid file is refused and the running configuration stays.
        cfg.write_text(cfg.read_text() + "\n[gateway.oops]\n")
        mark = daemon.mark()
        daemon.signal(signal.SIGHUP)
        refused = daemon.wait_event("reload_refused", after=mark)
        assert "gateway" in refused["error"]
        assert entrance.swipe(ANA).status == Status.OK
        write_config(
            cfg,
            database_url=pg_url,
            state_dir=state,
            readers=[("entrance", entrance.port, "in"), ("side", side.port, "in")],
        )
        mark = daemon.mark()
        daemon.signal(signal.SIGHUP)
        done = daemon.wait_event("config_reloaded", after=mark)
        assert done["added"] == ["side"] and done["removed"] == [] and done["changed"] == []
        side.wait_online()
        assert side.swipe(ANA).status == Status.OK
        assert not daemon.find("link_stopped", reader="entrance")
        # Removing a reader closes its port only.
        write_config(cfg, database_url=pg_url, state_dir=state, readers=[("side", side.port, "in")])
        mark = daemon.mark()
        daemon.signal(signal.SIGHUP)
        done = daemon.wait_event("config_reloaded", after=mark)
        assert done["removed"] == ["entrance"] and done["readers"] == ["side"]
        daemon.wait_event("link_stopped", reader="entrance")
        assert side.swipe(ANA).status == Status.OK
        assert daemon.stop() == 0
    entrance.close()
    side.close()


def test_sighup_that_changes_the_language_changes_the_idle_screen(
    tmp_path: Path, pg_url: str
) -> None:
    """The idle screen travels only in HELLO_ACK: after a reload to another locale the
    reader must be sent it again, not keep the old language until it next resets."""
    seed(pg_url, [("ana", "Ana", "04A1B2C3")])
    entrance = PtyReader(tmp_path, "entrance", Role.IN).plug()
    state = tmp_path / "state"
    readers = [("entrance", entrance.port, "in")]
    cfg = write_config(tmp_path / "c.toml", database_url=pg_url, state_dir=state, readers=readers)
    with DaemonProcess(cfg) as daemon:
        daemon.wait_ready()
        english = entrance.wait_online(20).text
        write_config(
            cfg,
            database_url=pg_url,
            state_dir=state,
            readers=readers,
            messages={"locale": "es"},
        )
        entrance.acked.clear()
        mark = daemon.mark()
        daemon.signal(signal.SIGHUP)
        done = daemon.wait_event("config_reloaded", after=mark, timeout=20)
        assert done["changed"] == ["entrance"]
        spanish = entrance.wait_online(20).text
        assert spanish != english and spanish == Messages("es").render("idle_in")
        result = entrance.swipe(ANA)
        assert result.status == Status.OK and result.text.startswith("Entrada")
        assert daemon.stop(timeout=30) == 0
    entrance.close()


def _collect(
    sock: socket.socket, *, until: Callable[[list[str]], bool], timeout: float
) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(got):
        try:
            got.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
    return got


def test_silent_reader_is_reported_in_log_and_status(tmp_path: Path, pg_url: str) -> None:
    seed(pg_url, [])
    # The reader answers the handshake and then never sends a heartbeat.
    quiet = PtyReader(tmp_path, "quiet", Role.OUT, heartbeat_s=3600).plug()
    state = tmp_path / "state"
    cfg = write_config(
        tmp_path / "c.toml",
        database_url=pg_url,
        state_dir=state,
        readers=[("quiet", quiet.port, "out")],
        gateway={"heartbeat_ms": 200},
    )
    with DaemonProcess(cfg) as daemon:
        daemon.wait_ready()
        quiet.wait_online()
        silent = daemon.wait_event("reader_silent", timeout=5, reader="quiet")
        assert silent["silent_s"] >= 0.7
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            status = read_status(state)
            if status is not None and status.readers and status.readers[0].link_state == "silent":
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"status never said silent: {read_status(state)}")
        quiet.send(Heartbeat())
        daemon.wait_event("reader_back", reader="quiet")
        assert daemon.stop() == 0
    quiet.close()


def test_starts_offline_when_it_has_run_before(tmp_path: Path, pg_url: str) -> None:
    seed(pg_url, [("ana", "Ana", "04A1B2C3")])
    reader = PtyReader(tmp_path, "entrance", Role.IN).plug()
    state = tmp_path / "state"
    readers = [("entrance", reader.port, "in")]
    cfg = write_config(tmp_path / "c.toml", database_url=pg_url, state_dir=state, readers=readers)
    with DaemonProcess(cfg) as daemon:
        daemon.wait_ready()
        reader.wait_online()
        assert reader.swipe(ANA).text == "In - Ana"
        assert daemon.stop() == 0
    # The database is now unreachable; the card directory from the first run remains.
    dead = "postgresql://postgres:x@127.0.0.1:9/nowhere"
    write_config(cfg, database_url=dead, state_dir=state, readers=readers)
    with DaemonProcess(cfg) as daemon:
        assert daemon.wait_ready()["database"] == "offline"
        reader.wait_online()
        result = reader.swipe(ANA, seq=100)
        assert (result.status, result.text) == (Status.OK, "Saved offline\nAna")
        event = daemon.wait_event("swipe", reader="entrance", seq=100)
        assert event["durability"] == "spool" and event["from_cache"] is True
        assert daemon.stop() == 0
    reader.close()


def test_an_old_schema_is_refused_at_start_even_with_a_card_directory(tmp_path: Path) -> None:
    """A version-1 database answers, but the daemon must neither write to it nor spool for
    it: it exits with one line naming 'db upgrade', although it knows cards offline."""
    import sqlite3

    from gateway.store.upgrade import sqlite_statements
    from tests.store.test_upgrade import V1_SQLITE

    state = tmp_path / "state"
    db = tmp_path / "v1.db"
    cfg = write_config(tmp_path / "c.toml", database_url=f"sqlite:///{db}", state_dir=state)
    # A current database first, so that the daemon saves its card directory...
    assert run_cli("db", "init", "--config", str(cfg)).returncode == 0
    seed(f"sqlite:///{db}", [("ana", "Ana", "04A1B2C3")])
    with DaemonProcess(cfg) as daemon:
        daemon.wait_event("directory_refreshed", timeout=30)
        assert daemon.stop(timeout=30) == 0, daemon.stderr_lines[-5:]
    # ...then the same file as version 1 (an older backup put back, say).
    db.unlink()
    with sqlite3.connect(db) as conn:
        for statement in sqlite_statements(V1_SQLITE.read_text()):
            conn.execute(statement)
    result = run_cli("run", "--config", str(cfg))
    assert result.returncode == ExitCode.DB_UNAVAILABLE
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("clock-gateway: error: ") and "clock-gateway db upgrade" in last
    assert "Traceback" not in result.stderr
