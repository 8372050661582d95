"""Helpers for tests that run the daemon as a real subprocess (reusable by other suites).

- `write_config(path, ...)`: a TOML configuration for the daemon.
- `DaemonProcess`: `python -m gateway run --config ...` as a child process; its stderr
  (JSON log lines) is collected in a thread so that tests can wait for log events:
  `wait_event("daemon_ready")`, `wait_event("link_up", reader="entrance")`. `stop()`
  sends SIGTERM and returns the exit code; `kill()` is the crash path.
- `PtyReader`: a minimal protocol-v1 reader on a pseudo-terminal, behind a by-id-style
  symlink, for tests that need byte-level control (retransmissions with the same seq,
  garbage on the line, unplugging). It speaks through gateway.protocol only.
- `seed(url, people)`: schema plus people and their cards, through the stores.

Everything here blocks with timeouts; nothing depends on pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gateway.cli.children import die_with_parent
from gateway.protocol import (
    DecodeError,
    Decoder,
    Heartbeat,
    Hello,
    HelloAck,
    Message,
    Nak,
    NakReason,
    Result,
    Role,
    Swipe,
    encode,
)
from gateway.store.audit import Actor

REPO_ROOT = Path(__file__).resolve().parents[2]


# -- configuration and data ------------------------------------------------------------


def write_config(
    path: Path,
    *,
    database_url: str,
    state_dir: Path,
    readers: Iterable[tuple[str, str, str]] = (),
    gateway: Mapping[str, Any] | None = None,
    messages: Mapping[str, Any] | None = None,
    extra: str = "",
) -> Path:
    """Write a daemon configuration; readers are (name, port, role) triples."""
    lines = ["[gateway]", f"state_dir = {json.dumps(str(state_dir))}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in (gateway or {}).items()]
    lines += ["", "[database]", f"url = {json.dumps(database_url)}", ""]
    if messages:
        lines += ["[messages]"] + [f"{k} = {json.dumps(v)}" for k, v in messages.items()]
    for name, port, role in readers:
        lines += [
            "",
            "[[readers]]",
            f"name = {json.dumps(name)}",
            f"port = {json.dumps(port)}",
            f"role = {json.dumps(role)}",
        ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def seed(url: str, people: Iterable[tuple[str, str, str | None]]) -> None:
    """Create the schema and add (uid, name, card key or None) people."""
    from gateway.store.stores import Stores

    async def go() -> None:
        stores = Stores.open(url)
        try:
            await stores.db.init_schema()
            for uid, name, card in people:
                await stores.lifecycle.add_person(uid, name, Actor.cli())
                if card:
                    await stores.lifecycle.assign_card(card, uid, Actor.cli())
        finally:
            await stores.close()

    asyncio.run(go())


# -- the daemon --------------------------------------------------------------------------


class DaemonProcess:
    """`python -m gateway run` in a subprocess, with its log events at hand."""

    def __init__(
        self,
        config: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: Iterable[str] = (),
    ) -> None:
        self.config = config
        self.env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
        self.args = list(args)
        self.events: list[dict[str, Any]] = []
        self.stderr_lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self) -> DaemonProcess:
        cmd = [sys.executable, "-m", "gateway", "run", "--config", str(self.config), *self.args]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=REPO_ROOT,
            preexec_fn=die_with_parent(),  # a killed test run leaves no daemon behind
        )
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        return self

    def _collect(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.stderr_lines.append(line.rstrip("\n"))
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if isinstance(event, dict):
                        self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def find(self, event: str, **match: Any) -> list[dict[str, Any]]:
        with self._cond:
            return [
                e
                for e in self.events
                if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
            ]

    def wait_event(
        self, event: str, timeout: float = 10.0, *, after: int = 0, **match: Any
    ) -> dict[str, Any]:
        """The first log event named `event` (from index `after`) with matching fields."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events[after:]:
                    if e.get("event") == event and all(e.get(k) == v for k, v in match.items()):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or (
                    self.proc is not None
                    and self.proc.poll() is not None
                    and not (self._reader and self._reader.is_alive())
                ):
                    raise TimeoutError(
                        f"no {event} {match} within {timeout} s; last log lines:\n"
                        + "\n".join(self.stderr_lines[-15:])
                    )
                self._cond.wait(min(left, 0.1))

    def since(self, after: int) -> list[dict[str, Any]]:
        """The log events from index `after` (see `mark`) on."""
        with self._cond:
            return list(self.events[after:])

    def mark(self) -> int:
        """An index into the events: pass it as `after` to wait only for newer ones."""
        with self._cond:
            return len(self.events)

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_event("daemon_ready", timeout)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        return code

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(10)
            except subprocess.TimeoutExpired:
                self.kill()


def run_cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> Any:
    """`python -m gateway ARGS` to completion: the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        cwd=REPO_ROOT,
    )


# -- a reader on a pseudo-terminal --------------------------------------------------------


class PtyReader:
    """A protocol-v1 reader on a PTY, reachable through the symlink `port`.

    A thread reads the line: it answers NAK NOT_READY with HELLO, repeats HELLO every
    second until acknowledged, sends heartbeats, and queues RESULTs for `swipe()`.
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        role: Role,
        *,
        hardware_id: bytes | None = None,
        session: int = 1,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.port = str(directory / name)
        self.role = role
        self.hardware_id = hardware_id or name.encode()[:8].ljust(8, b"\x00")
        self.session = session
        self.heartbeat_s = heartbeat_s
        self.seq = 0
        self.acked = threading.Event()
        self.ack: HelloAck | None = None
        self.results: queue.Queue[Result] = queue.Queue()
        self.received: list[Message] = []
        self.naks: list[Nak] = []
        self._master = -1
        self._slave = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def plug(self) -> PtyReader:
        """Create the PTY and the symlink, and start talking."""
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # no echo or line editing before the daemon opens it
        os.symlink(os.ttyname(self._slave), self.port)
        self.acked.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        """The USB cable is pulled: the device node and its symlink vanish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(OSError):
            os.unlink(self.port)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1
        self.acked.clear()

    close = unplug

    def reboot(self, session: int) -> None:
        """A reset board: a new session, HELLO again, sequence numbers from 1."""
        self.session = session
        self.seq = 0
        self.acked.clear()
        self.send(Hello(self.role, self.session, self.hardware_id, (1, 0, 0)))

    def send(self, msg: Message) -> None:
        self.send_raw(encode(msg))

    def send_raw(self, data: bytes) -> None:
        with self._lock:
            if self._master >= 0:
                with contextlib.suppress(OSError):
                    os.write(self._master, data)

    def wait_online(self, timeout: float = 10.0) -> HelloAck:
        if not self.acked.wait(timeout):
            raise TimeoutError(f"{self.port}: no HELLO_ACK within {timeout} s")
        assert self.ack is not None
        return self.ack

    def swipe(self, uid: bytes, *, seq: int | None = None, timeout: float = 15.0) -> Result:
        """Tap a card: SWIPE, retransmitted every second, until its RESULT arrives.

        Bounded by time only (generous: a loaded machine), not by a count of sends.
        """
        if seq is None:
            self.seq += 1
            seq = self.seq
        frame = encode(Swipe(seq, uid))
        deadline = time.monotonic() + timeout
        sends = 0
        while True:
            self.send_raw(frame)
            sends += 1
            try:
                while True:
                    left = min(1.0, deadline - time.monotonic())
                    result = self.results.get(timeout=max(left, 0.01))
                    if result.seq == seq:
                        return result
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"{self.port}: no RESULT for seq {seq} within {timeout:g} s "
                        f"({sends} SWIPE frames sent)"
                    ) from None

    def _run(self) -> None:
        decoder = Decoder()
        hello = encode(Hello(self.role, self.session, self.hardware_id, (1, 0, 0)))
        next_hello = 0.0
        last_tx = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if not self.acked.is_set() and now >= next_hello:
                hello = encode(Hello(self.role, self.session, self.hardware_id, (1, 0, 0)))
                self.send_raw(hello)
                next_hello, last_tx = now + 1.0, now
            elif self.acked.is_set() and now - last_tx >= self.heartbeat_s:
                self.send(Heartbeat())
                last_tx = now
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                time.sleep(0.05)
                continue
            for item in decoder.feed(data):
                if isinstance(item, DecodeError):
                    continue
                self.received.append(item)
                if isinstance(item, HelloAck):
                    self.ack = item
                    if item.accepted:
                        self.acked.set()
                    else:
                        next_hello = time.monotonic() + 5.0
                elif isinstance(item, Result):
                    self.results.put(item)
                elif isinstance(item, Nak):
                    self.naks.append(item)
                    if item.reason is NakReason.NOT_READY:
                        self.acked.clear()
                        next_hello = 0.0
