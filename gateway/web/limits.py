"""What keeps a client, or a thousand of them, from taking the web down.

- Connections: uvicorn's `limit_concurrency` answers 503 past [web] max_connections;
  `connection_protocol` closes at once a connection past that (plus a margin for the
  503s) or past max_connections_per_address from one peer, so idle sockets cannot
  use up the process's file descriptors; and it closes a connection whose request
  headers have not all arrived within header_timeout_s (uvicorn's own keep-alive
  timeout starts only after a first response, and any byte restarts it). A trusted
  proxy's connections count only towards the total: its clients are counted by their
  forwarded address, in `AddressGuard`.
- `AddressGuard`: at most max_connections_per_address requests at once per client
  address (an open event stream is one); more get 429.
- `BodyLimit`: a request body larger than its route allows is refused with 413 from
  its Content-Length, or as soon as the bytes received pass the limit, and a body
  that does not arrive within body_timeout_s gets 408. The body is read here, at most
  the limit, in memory, so the handlers never see a partial one and nothing reaches a
  temporary file. Upload routes (STREAMED) are the exception: their body, up to
  [web] upload_max_bytes, is not held here but passed on as it arrives, counted, so
  the form parser spools the file to the web's temporary folder (1 MB in memory at
  most); passing the limit or upload_timeout_s raises BodyRefused inside the parser,
  which the route guard turns into a 413 or 408 page; at most UPLOADS_AT_ONCE are read
  at once (503 past that), so uploads cannot hold memory or fill the disk.
- `ResourceLog`: running out of file descriptors (or memory, or buffers) is logged
  once per interval with a count, never once per failed accept or request.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.config import Config, WebConfig
from gateway.errors import ConfigError
from gateway.logs import get_logger

log = get_logger("web")

# The reverse proxy whose X-Forwarded-For uvicorn believes (README: nginx on the host).
TRUSTED_PROXIES = ("127.0.0.1",)

# Request bodies, in bytes: the sign-in form is a name and a password; the other forms
# are a few fields. Uploads are STREAMED (below), with [web] upload_max_bytes.
BODY_LIMITS = {"/login": 8 * 1024, "/logout": 8 * 1024}
DEFAULT_BODY_LIMIT = 64 * 1024
# The upload routes: their limit is [web] upload_max_bytes plus this for the form's
# other fields and the multipart boundaries.
STREAMED = frozenset({"/uploads/people", "/uploads/timetable"})
FORM_MARGIN = 16 * 1024
UPLOADS_AT_ONCE = 4
# A refused upload is read (and dropped) up to this much, so that its sender sees the
# 413 page rather than a reset connection; past it the connection is cut.
DRAIN_MAX = 64 * 2**20

# Connections past max_connections still get uvicorn's polite 503 up to this many
# more; past that they are closed unanswered. File descriptors kept back for the
# database, the log, the templates and the watcher.
OVERFLOW = 64
RESERVED_FDS = 128
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class ResourceLog:
    """One log line per INTERVAL_S for a recurring event, with how many were not
    logged in between."""

    INTERVAL_S = 10.0

    def __init__(self, event: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.event = event
        self._clock = clock
        self._last = -math.inf
        self.skipped = 0
        self.total = 0

    def note(self, **fields: Any) -> None:
        self.total += 1
        now = self._clock()
        if now - self._last < self.INTERVAL_S:
            self.skipped += 1
            return
        log.error(self.event, not_logged_since_last=self.skipped, **fields)
        self._last, self.skipped = now, 0


RESOURCE_ERRORS = ResourceLog("web_resource_error")
REFUSED_CONNECTIONS = ResourceLog("web_connections_refused")


class _ConcurrencyFilter(logging.Filter):
    """uvicorn warns "Exceeded concurrency limit." for every request it answers 503:
    one line per interval instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Exceeded concurrency limit"):
            REFUSED_CONNECTIONS.note(limit="max_connections", answer=503)
            return False
        return True


def quiet_uvicorn() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ConcurrencyFilter) for f in logger.filters):
        logger.addFilter(_ConcurrencyFilter())


def is_resource_error(exc: BaseException | None) -> bool:
    """Out of file descriptors, memory or buffers, anywhere in the exception's chain."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, MemoryError):
            return True
        if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def note_resource_error(where: str, exc: BaseException) -> None:
    name = errno.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)
    RESOURCE_ERRORS.note(where=where, error=name)


def install_loop_handler(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio reports a failed accept (EMFILE) through the loop's exception handler,
    with a traceback each time: route those through RESOURCE_ERRORS instead."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException) and is_resource_error(exc):
            note_resource_error(str(context.get("message", "event loop")), exc)
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (systemd's
    LimitNOFILE, or the shell's); the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def connection_budget(web: WebConfig, open_files: int) -> int:
    """max_connections, lowered to what the open-files limit can hold."""
    fits = open_files - RESERVED_FDS - OVERFLOW
    if web.max_connections <= fits:
        return web.max_connections
    budget = max(16, fits)
    log.warning(
        "web_connections_lowered",
        max_connections=web.max_connections,
        allowed=budget,
        open_files_limit=open_files,
        fix="raise LimitNOFILE in the unit (or ulimit -n) or lower [web] max_connections",
    )
    return budget


def connection_protocol(web: WebConfig, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol, with the per-peer cap, the hard total cap and the
    request-header timeout (module docstring)."""
    per_peer: Counter[str] = Counter()
    header_timeout = web.header_timeout_s
    per_address = web.max_connections_per_address
    hard_total = max_connections + OVERFLOW

    class GuardedProtocol(H11Protocol):
        _peer: str | None = None
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            peer = self.client[0] if self.client else "unknown"
            too_many = None
            if len(self.connections) > hard_total:
                too_many = "total"
            elif peer not in TRUSTED_PROXIES and per_peer[peer] >= per_address:
                too_many = "per_address"
            if too_many is not None:
                REFUSED_CONNECTIONS.note(limit=too_many, connections=len(self.connections))
                transport.abort()  # the descriptor is freed now, not after a timeout
                return
            self._peer = peer
            per_peer[peer] += 1
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._peer is not None:
                per_peer[self._peer] -= 1
                if per_peer[self._peer] <= 0:
                    del per_peer[self._peer]
                self._peer = None
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(
                header_timeout, self._header_timeout, self.cycle
            )

        def _header_timeout(self, waiting_after: object) -> None:
            # No new request since the timer was armed: its headers did not all come.
            self._header_timer = None
            if self.cycle is waiting_after and not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol


def _plain(status: int, text: str, **headers: str) -> tuple[Message, Message]:
    body = text.encode()
    head = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
    head += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    head.append((b"content-length", str(len(body)).encode()))
    return (
        {"type": "http.response.start", "status": status, "headers": head},
        {"type": "http.response.body", "body": body},
    )


async def _send_plain(send: Send, status: int, text: str, **headers: str) -> None:
    for message in _plain(status, text, **headers):
        await send(message)


class AddressGuard:
    """At most `per_address` requests in progress per client address (module docstring)."""

    def __init__(self, app: ASGIApp, per_address: int) -> None:
        self.app = app
        self.per_address = per_address
        self.busy: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        if self.busy[address] >= self.per_address:
            REFUSED_CONNECTIONS.note(limit="requests_per_address", address=address)
            await _send_plain(send, 429, "too many requests from your address\n", retry_after="2")
            return
        self.busy[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.busy[address] -= 1
            if self.busy[address] <= 0:
                del self.busy[address]


class BodyRefused(Exception):
    """A streamed body passed its size or its deadline: raised from `receive`, inside
    the form parser; the route guard answers with a page (status 413 or 408)."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key  # an i18n key
        self.values = values


class BodyLimit:
    """Per-route body size and a deadline for the whole body (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        timeout_s: float,
        upload_bytes: int = 5 * 2**20,
        upload_timeout_s: float = 120.0,
    ) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.upload_bytes = upload_bytes
        self.upload_timeout_s = upload_timeout_s
        self.uploads = 0  # streamed bodies being read now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in STREAMED and scope.get("method") == "POST":
            await self._streamed(scope, receive, send)
            return
        limit = BODY_LIMITS.get(scope["path"], DEFAULT_BODY_LIMIT)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_plain(send, 400, "bad Content-Length\n")
                return
            if declared > limit:
                await _send_plain(send, 413, f"request body over {limit} bytes\n")
                return
        body = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                await _send_plain(send, 408, f"request body not received in {self.timeout_s:g} s\n")
                return
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await _send_plain(send, 413, f"request body over {limit} bytes\n")
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the body on as it arrives, counted and timed (module docstring)."""
        limit = self.upload_bytes + FORM_MARGIN
        megabytes = f"{self.upload_bytes / 2**20:.3g}"
        length = dict(scope["headers"]).get(b"content-length")
        refused: BodyRefused | None = None
        declared = 0
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_plain(send, 400, "bad Content-Length\n")
                return
            if declared > limit:  # refused when the guard, past its checks, reads it
                refused = BodyRefused(413, "upload_too_big", mb=megabytes)
        if self.uploads >= UPLOADS_AT_ONCE:
            REFUSED_CONNECTIONS.note(limit="uploads_at_once", uploads=self.uploads)
            await _send_plain(send, 503, "other uploads in progress: try again\n", retry_after="5")
            return
        received = 0
        deadline = asyncio.get_running_loop().time() + self.upload_timeout_s

        async def counted() -> Message:
            nonlocal received
            if refused is not None:
                if declared <= DRAIN_MAX:
                    await _drain(receive, deadline)
                raise refused
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                seconds = f"{self.upload_timeout_s:g}"
                raise BodyRefused(408, "upload_too_slow", seconds=seconds) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await _drain(receive, deadline, received)
                    raise BodyRefused(413, "upload_too_big", mb=megabytes)
            return message

        self.uploads += 1
        try:
            await self.app(scope, counted, send)
        finally:
            self.uploads -= 1


async def _drain(receive: Receive, deadline: float, received: int = 0) -> None:
    """Read and drop the rest of a refused upload, up to DRAIN_MAX bytes in all and
    the body's deadline: a browser that is still sending reads no answer (it sees
    the connection reset), so a file somewhat too big gets its 413 page; a body
    past DRAIN_MAX is cut off there."""
    while received <= DRAIN_MAX:
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        received += len(message.get("body", b""))


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read already, then whatever the connection says next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def temp_dir(config: Config) -> Path:
    """The web's own directory for temporary files, made private (0700): [web] temp_dir,
    else $RUNTIME_DIRECTORY (systemd's, on a RAM file system), else the system's.
    A warning when it is on the state directory's file system."""
    web = config.web
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if web.temp_dir is not None:
        folder = web.temp_dir
    elif runtime:
        folder = Path(runtime) / "tmp"
    else:
        folder = Path(tempfile.gettempdir()) / f"clock-gateway-web-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    except OSError as exc:
        raise ConfigError(
            "web", "temp_dir", f"cannot use {folder} for temporary files: {exc.strerror}"
        ) from None
    try:
        same = folder.stat().st_dev == config.state_dir.stat().st_dev
    except OSError:
        same = False
    if same:
        log.warning(
            "web_temp_on_state_fs",
            temp_dir=str(folder),
            state_dir=str(config.state_dir),
            why="a full disk there makes taps KO: set [web] temp_dir elsewhere",
        )
    return folder
