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
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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


def log() -> Any:
    return get_logger("metrics")


class MetricsServer:
    def __init__(
        self,
        metrics: GatewayMetrics,
        take_sample: Callable[[], GatewaySample],
        host: str,
        port: int,
        *,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
    ) -> None:
        self.metrics = metrics
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

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: MetricsServer
    ) -> None:
        self.owner = owner
        if _is_ipv6(address[0]):
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "clock-gateway"
    sys_version = ""

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
