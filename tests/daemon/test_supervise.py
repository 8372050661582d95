"""The daemon's own loops: a failing one is logged with its traceback and restarted with
backoff; a critical one that cannot be kept alive stops the systemd watchdog's pings.

The daemon's pieces run in-process (its supervisor, its watchdog loop, its notifier on a
real datagram socket); the failing loop stands for a bug, which cannot be provoked in a
real daemon from outside.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from gateway.config import parse_config
from gateway.daemon import Daemon
from gateway.daemon.supervise import Supervisor

LIMIT_S = 10.0


def fast_supervisor(give_up_after: int = 3) -> Supervisor:
    return Supervisor(first_delay_s=0.01, max_delay_s=0.04, give_up_after=give_up_after)


async def until(predicate: Callable[[], bool], timeout: float = LIMIT_S) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_failing_loop_is_logged_with_its_traceback_and_restarted() -> None:
    runs: list[int] = []
    healthy = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) <= 2:
            raise RuntimeError(f"bug number {len(runs)}")
        healthy.set()
        await asyncio.Event().wait()  # the third run stays up

    supervisor = fast_supervisor()
    with structlog.testing.capture_logs(processors=[structlog.processors.format_exc_info]) as logs:
        supervisor.keep("flaky", flaky, critical=True)
        async with asyncio.timeout(LIMIT_S):
            await healthy.wait()
        await supervisor.stop()
    failed = [e for e in logs if e["event"] == "daemon_task_failed"]
    assert [e["error"] for e in failed] == [
        "RuntimeError('bug number 1')",
        "RuntimeError('bug number 2')",
    ]
    assert all("Traceback" in e["exception"] and "in flaky" in e["exception"] for e in failed)
    delays = [e["in_s"] for e in logs if e["event"] == "daemon_task_restarting"]
    assert delays == [0.01, 0.02]  # doubling
    assert supervisor.healthy and len(runs) == 3


async def test_a_loop_that_keeps_failing_is_given_up_and_only_a_critical_one_matters() -> None:
    async def broken() -> None:
        raise RuntimeError("always")

    supervisor = fast_supervisor()
    optional = supervisor.keep("optional", broken, critical=False)
    async with asyncio.timeout(LIMIT_S):
        await optional
    assert supervisor.healthy
    critical = supervisor.keep("status", broken, critical=True)
    async with asyncio.timeout(LIMIT_S):
        await critical
    assert not supervisor.healthy and supervisor.given_up == "status"


async def test_a_one_off_job_that_fails_is_logged_not_restarted() -> None:
    async def reload() -> None:
        raise ValueError("bad reload")

    supervisor = fast_supervisor()
    with structlog.testing.capture_logs(processors=[structlog.processors.format_exc_info]) as logs:
        async with asyncio.timeout(LIMIT_S):
            await supervisor.once("reload", reload())
    (failed,) = [e for e in logs if e["event"] == "daemon_task_failed"]
    assert failed["task"] == "reload" and "ValueError: bad reload" in failed["exception"]
    assert supervisor.healthy


async def test_watchdog_pings_stop_when_a_critical_loop_cannot_be_kept_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # a ping every 50 ms
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    config = parse_config(
        {
            "gateway": {"state_dir": str(tmp_path / "state")},
            "database": {"url": f"sqlite:///{tmp_path / 'db'}"},
        },
        "test",
    )
    daemon = Daemon(config)
    daemon.supervisor = fast_supervisor()
    interval = daemon.notifier.watchdog_s
    assert interval == 0.05
    got: list[str] = []

    def receive() -> list[str]:
        while True:
            try:
                got.append(sock.recv(4096).decode())
            except BlockingIOError:
                return got

    breaks = asyncio.Event()

    async def status() -> None:  # a loop with a bug that shows after a while, every time
        await breaks.wait()
        raise RuntimeError("status bug")

    try:
        daemon.supervisor.keep("status", status, critical=True)
        daemon.supervisor.keep("watchdog", lambda: daemon._watchdog_loop(interval), critical=True)
        await until(lambda: receive().count("WATCHDOG=1") >= 3)
        breaks.set()
        await until(lambda: any(m.startswith("STATUS=unhealthy") for m in receive()))
        assert "status keeps failing" in got[-1]
        assert daemon._status_line().startswith("UNHEALTHY (status keeps failing)")
        got.clear()
        await asyncio.sleep(10 * interval)  # ten intervals without a single ping
        assert "WATCHDOG=1" not in receive()
    finally:
        await daemon.supervisor.stop()
        daemon.notifier.close()
        sock.close()
