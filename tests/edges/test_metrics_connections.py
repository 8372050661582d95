"""No client of /metrics may take what a tap needs (issue 24 item 2).

1,012 idle connections to /metrics once exhausted the daemon's 1,024 descriptors: taps
answered KO "Disk error" and /healthz timed out. Here the real daemon runs with its
descriptor limit lowered to 256 (so the test needs few sockets), two readers on PTYs,
and more idle connections than that are opened to /metrics: taps must still be OK and
/healthz must answer. The unit tests check the cap and the slowloris deadline alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.kit.harness import REPO_ROOT, DaemonProcess, PtyReader, seed, write_config
from bench.kit.pgcluster import free_port
from gateway.metrics import GatewayMetrics, GatewaySample, MetricsServer
from gateway.protocol import Role, Status
from tests.support.wait import Deadline, wait_until

DAEMON_FD_LIMIT = 256
IDLE_CONNECTIONS = 400  # more than the daemon has descriptors
ANA = "04A1B2C3"


def _get(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@contextlib.contextmanager
def _own_fd_limit(at_least: int) -> Iterator[None]:
    """This test process needs a descriptor per idle connection it opens."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < at_least:
        pytest.skip(f"the test needs {at_least} descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, at_least), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class _LimitedDaemon(DaemonProcess):
    """The daemon with soft and hard RLIMIT_NOFILE lowered (it cannot raise them)."""

    def start(self) -> _LimitedDaemon:
        def lower() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (DAEMON_FD_LIMIT, DAEMON_FD_LIMIT))

        cmd = [sys.executable, "-m", "gateway", "run", "--config", str(self.config)]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=REPO_ROOT,
            preexec_fn=lower,
        )
        import threading

        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        return self


def _open_idle(port: int, n: int) -> list[socket.socket]:
    """n TCP connections that never send a byte (closed ones by the server are kept)."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        with contextlib.suppress(OSError):  # a full backlog: the connect times out
            s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


@pytest.mark.e2e
def test_idle_metrics_connections_do_not_take_the_taps_descriptors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    seed(url, [("ana", "Ana", ANA)])
    port = free_port()
    entrance = PtyReader(tmp_path, "entrance", Role.IN).plug()
    exit_ = PtyReader(tmp_path, "exit", Role.OUT).plug()
    cfg = write_config(
        tmp_path / "config.toml",
        database_url=url,
        state_dir=tmp_path / "state",
        readers=[("entrance", entrance.port, "in"), ("exit", exit_.port, "out")],
        gateway={"duplicate_window_s": 0},
        extra=f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n',
    )
    socks: list[socket.socket] = []
    try:
        with _own_fd_limit(IDLE_CONNECTIONS + 200), _LimitedDaemon(cfg) as daemon:
            starting = daemon.wait_ready()
            assert daemon.find("daemon_starting")[0]["fd_limit"] == DAEMON_FD_LIMIT, starting
            entrance.wait_online(20)
            exit_.wait_online(20)
            assert entrance.swipe(bytes.fromhex(ANA)).status is Status.OK

            socks = _open_idle(port, IDLE_CONNECTIONS)
            # Taps while the idle connections are held open, on both readers.
            statuses = []
            for i in range(10):
                reader = entrance if i % 2 == 0 else exit_
                statuses.append(reader.swipe(bytes.fromhex(ANA)).status)
            assert statuses == [Status.OK] * 10, statuses
            # /healthz answers within the idle connections' read timeout (the attacker
            # does not reconnect here; one that does competes for the 16 slots).
            started = time.monotonic()
            deadline = Deadline(30, "/healthz to answer 200 with 400 idle connections open")
            while True:
                with contextlib.suppress(OSError):
                    if _get(f"http://127.0.0.1:{port}/healthz", 3) == 200:
                        break
                deadline.check()
                time.sleep(0.2)
            healthz_s = time.monotonic() - started
            assert healthz_s < 20, healthz_s
            refused = daemon.wait_event("metrics_connections_refused", 10)
            assert refused["limit"] == 16
            assert not daemon.find("spool_write_failed")
            assert entrance.swipe(bytes.fromhex(ANA)).status is Status.OK
            assert daemon.stop() == 0
    finally:
        for s in socks:
            s.close()
        entrance.close()
        exit_.close()


def _sample() -> GatewaySample:
    return GatewaySample(readers_configured=0, readers=(), database_ok=True, spool_depth=0)


async def _server(**kwargs: Any) -> tuple[MetricsServer, int]:
    server = MetricsServer(GatewayMetrics("hall-a"), _sample, "127.0.0.1", 0, **kwargs)
    _, port = await server.start()
    return server, port


def _closed_by_server(s: socket.socket, timeout: float) -> bool:
    """True once the server closed the connection (EOF or reset) within `timeout`."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def test_connections_over_the_cap_are_closed_at_once() -> None:
    server, port = await _server(max_connections=4, read_timeout_s=30, connection_deadline_s=60)
    socks: list[socket.socket] = []
    try:
        socks = await asyncio.to_thread(_open_idle, port, 4)
        served = server._server
        assert served is not None
        await asyncio.to_thread(wait_until, lambda: served.open_connections == 4, 10, "4 held")
        extra = await asyncio.to_thread(_open_idle, port, 3)
        socks += extra
        for s in extra:
            assert await asyncio.to_thread(_closed_by_server, s, 5)
        assert served.open_connections == 4
        # The held ones are still open (no timeout yet).
        assert not await asyncio.to_thread(_closed_by_server, socks[0], 0.3)
    finally:
        for s in socks:
            s.close()
        await server.stop()


async def test_a_slowloris_client_is_dropped_within_the_deadline() -> None:
    server, port = await _server(max_connections=4, read_timeout_s=0.8, connection_deadline_s=2)
    try:

        def trickle() -> float:
            """One header byte every 0.5 s (under the read timeout): until closed."""
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200
                for byte in request:
                    try:
                        s.sendall(bytes([byte]))
                    except OSError:
                        break
                    if _closed_by_server(s, 0.5):
                        break
                    if time.monotonic() - started > 20:
                        break
            return time.monotonic() - started

        held = await asyncio.to_thread(trickle)
        assert held < 5, held
        # An idle connection (no byte at all) goes at the read timeout.
        s = await asyncio.to_thread(socket.create_connection, ("127.0.0.1", port), 5)
        started = time.monotonic()
        assert await asyncio.to_thread(_closed_by_server, s, 5)
        assert time.monotonic() - started < 3
        s.close()
        # And the server still answers.
        assert await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz") == 200
    finally:
        await server.stop()
