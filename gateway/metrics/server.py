"""`/metrics` and `/healthz` over HTTP, from a thread of their own.

A thread, not the event loop: a load balancer or a service manager asking /healthz must
get an answer (503) when the event loop is stuck, and a stuck loop cannot answer for
itself. Each request asks the loop for a fresh `GatewaySample` with
`call_soon_threadsafe` and waits at most `probe_timeout_s` for it; that wait is the
event-loop check, and the sample (taken on the loop, so never half-updated) is what
both endpoints report. Nothing runs between requests.

Healthy means: the event loop answered in time, every configured reader has a
supervised link (a reader that is unplugged is still supervised: its link reconnects
by itself; that is an alert, not a restart), and a swipe can be kept (the database
answers, or the spool is writable and not full). Otherwise 503 with the reasons.

Bound to 127.0.0.1 unless the configuration says otherwise; the metrics hold reader
names and counts, no card number or person.

No client may take what a tap needs. Every connection costs a descriptor and a thread,
and the daemon's readers, spool and database connections share the same descriptor
limit: 1,012 idle connections once exhausted it and every tap answered KO. So at most
`MAX_CONNECTIONS` are served at once (a scraper needs one; more are closed as soon as
they are accepted), each read waits at most `READ_TIMEOUT_S`, and a connection still
open after `CONNECTION_DEADLINE_S` (a slowloris trickling a header byte at a time) is
shut down by the serving thread, whatever it is waiting for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import choose_encoder

from gateway.errors import GatewayError
from gateway.logs import get_logger
from gateway.metrics.registry import GatewayMetrics, GatewaySample

PROBE_TIMEOUT_S = 2.0
# A Prometheus scraper and a health check need one connection each; 16 leaves room for
# a few humans with curl and is small next to any descriptor limit.
MAX_CONNECTIONS = 16
READ_TIMEOUT_S = 5.0
# The probe waits at most 2 s; a whole request and its answer fit well within this.
CONNECTION_DEADLINE_S = 10.0
# Refused connections are logged once per interval, with how many, never once each.
REFUSED_LOG_EVERY_S = 60.0
# accept() failing (the process is out of descriptors after all): wait before the next
# try instead of spinning on a listening socket that stays readable.
ACCEPT_BACKOFF_S = 0.2

log = get_logger("metrics")


class MetricsServer:
    def __init__(
        self,
        metrics: GatewayMetrics,
        take_sample: Callable[[], GatewaySample],
        host: str,
        port: int,
        *,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        read_timeout_s: float = READ_TIMEOUT_S,
        connection_deadline_s: float = CONNECTION_DEADLINE_S,
    ) -> None:
        self.metrics = metrics
        self.max_connections = max_connections
        self.read_timeout_s = read_timeout_s
        self.connection_deadline_s = connection_deadline_s
        self._take_sample = take_sample
        self._host = host
        self._port = port
        self._probe_timeout_s = probe_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the metrics server is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    async def start(self) -> tuple[str, int]:
        """Bind and serve; raise GatewayError when the address cannot be bound."""
        self._loop = asyncio.get_running_loop()
        try:
            server = _Server((self._host, self._port), _Handler, self)
        except OSError as exc:
            raise GatewayError(
                f"cannot listen on {self._host}:{self._port} for metrics: {exc.strerror or exc}"
            ) from None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="metrics-http"
        )
        self._thread.daemon = True  # never what keeps a stopping daemon alive
        self._thread.start()
        return self.address

    async def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        if thread is not None:
            await asyncio.to_thread(thread.join, 5.0)

    # -- called from the HTTP thread ----------------------------------------------------
    def probe(self) -> GatewaySample | None:
        """A fresh sample taken on the event loop; None if the loop did not answer."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return None
        future: concurrent.futures.Future[GatewaySample] = concurrent.futures.Future()

        def take() -> None:
            if not future.set_running_or_notify_cancel():
                return  # the request gave up waiting
            try:
                future.set_result(self._take_sample())
            except BaseException as exc:  # reported to the request, never raised in the loop
                future.set_exception(exc)

        started = time.monotonic()
        try:
            loop.call_soon_threadsafe(take)
            sample = future.result(timeout=self._probe_timeout_s)
        except (concurrent.futures.TimeoutError, RuntimeError):
            future.cancel()
            self.metrics.set_sample(self.metrics.sample, None)
            return None
        self.metrics.set_sample(sample, time.monotonic() - started)
        return sample

    def health(self) -> tuple[int, dict[str, Any]]:
        sample = self.probe()
        body: dict[str, Any] = {"gateway": self.metrics.gateway_id}
        if sample is None:
            problems = [f"event loop did not answer within {self._probe_timeout_s:g} s"]
        else:
            problems = sample.health_problems()
            body |= {
                "readers_configured": sample.readers_configured,
                "readers_supervised": sum(1 for r in sample.readers if r.supervised),
                "readers_ready": sum(1 for r in sample.readers if r.state == "ready"),
                "database": "ok" if sample.database_ok else "unreachable",
                "spool_depth": sample.spool_depth,
            }
        body = {"status": "unhealthy" if problems else "ok", **body}
        if problems:
            body["problems"] = problems
        return (503 if problems else 200), body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Waiting connections beyond this stay in the kernel (no descriptor of ours); the
    # ones accepted over the cap are closed at once.
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: MetricsServer
    ) -> None:
        self.owner = owner
        self._open: dict[socket.socket, float] = {}  # connection -> when it was accepted
        self._open_lock = threading.Lock()
        self._refused = 0
        self._refused_logged_at = 0.0
        if _is_ipv6(address[0]):
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    @property
    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError:
            time.sleep(ACCEPT_BACKOFF_S)  # handled (ignored) by the caller; no busy loop
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            full = len(self._open) >= self.owner.max_connections
            if not full:
                self._open[request] = time.monotonic()
        if full:
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)  # a thread of its own
        except BaseException:
            self.shutdown_request(request)
            raise

    def _refuse(self, request: socket.socket) -> None:
        # Closed before anything is read: no thread, no buffer, the descriptor back now.
        with contextlib.suppress(OSError):
            request.close()
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSED_LOG_EVERY_S:
            log.warning(
                "metrics_connections_refused",
                refused=self._refused,
                limit=self.owner.max_connections,
                hint="more clients at once than a scraper needs; see who connects",
            )
            self._refused_logged_at, self._refused = now, 0

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        """Between accepts (every poll interval): end connections past their deadline."""
        cutoff = time.monotonic() - self.owner.connection_deadline_s
        with self._open_lock:  # held: a listed socket is not closed under us
            for request, accepted in self._open.items():
                if accepted < cutoff:
                    # Wakes the handler's blocked read or write; its thread then closes it.
                    with contextlib.suppress(OSError):
                        request.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "clock-gateway"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.owner.read_timeout_s)  # each recv and send

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, *, head: bool) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            owner.probe()  # refreshes the sample (or marks the loop unresponsive)
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, content_type, encoder(owner.metrics.registry), head)
        elif path == "/healthz":
            status, body = owner.health()
            data = (json.dumps(body) + "\n").encode()
            self._send(status, "application/json", data, head)
        else:
            self._send(404, "text/plain; charset=utf-8", b"try /metrics or /healthz\n", head)

    def _send(self, status: int, content_type: str, data: bytes, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The base class prints every request to stderr; a scrape every 15 s is noise.
        return


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False
