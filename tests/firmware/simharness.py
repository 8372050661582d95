"""Drive the real clock_reader firmware in the simavr harness (firmware/sim/).

`Sim` (bench/kit/simavr.py, shared with bench/tap_screen.py) runs
build/sim/clock_sim on the compiled ELF and parses its event lines; `Link` is a
minimal gateway on the harness's pseudo-terminal speaking protocol v1 through
`gateway.protocol`, with optional automatic HELLO_ACK and heartbeats so a test
only scripts what it checks.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.kit.simavr import ELF, FIRMWARE, ROOT, SIM, Event, Sim, build, missing_tools
from gateway.protocol import (
    DecodeError,
    Decoder,
    Heartbeat,
    HelloAck,
    Message,
    Role,
    encode,
)

__all__ = ["ELF", "FIRMWARE", "ROOT", "SIM", "Event", "Link", "Received", "Sim", "build"]
__all__ += ["missing_tools"]


@dataclass
class Received:
    wall: float  # time.monotonic() when decoded
    msg: Message | DecodeError
    raw: bytes  # the frame's bytes as received (up to and including 0x00)


class Link:
    """A minimal gateway on the simulator's serial port.

    auto_ack: answer every HELLO with HELLO_ACK(accepted, role, heartbeat, idle_text).
    heartbeat: send HEARTBEAT whenever nothing was sent for that many ms (None: never).
    """

    def __init__(
        self,
        pty: str,
        auto_ack: bool = True,
        heartbeat: int | None = 1000,
        idle_text: str = "Clock in",
        role: Role = Role.IN,
    ) -> None:
        self.fd = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.auto_ack = auto_ack
        self.heartbeat = heartbeat
        self.ack = HelloAck(True, role, heartbeat or 1000, idle_text)
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self._decoder = Decoder()
        self._partial = bytearray()
        self._last_tx = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def send(self, msg: Message) -> None:
        self.write(encode(msg))

    def write(self, data: bytes) -> None:
        with self._lock:
            view = memoryview(data)
            deadline = time.monotonic() + 10  # the simulated UART takes bytes as it runs
            while view:
                try:
                    n = os.write(self.fd, view)
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"the simulated reader took no bytes for 10 s ({len(view)} left)"
                        ) from None
                    select.select([], [self.fd], [], 1.0)
                    continue
                view = view[n:]
            self._last_tx = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self.fd], [], [], 0.02)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except (BlockingIOError, OSError):
                    data = b""
                self._handle(data)
            if (
                self.heartbeat is not None
                and (time.monotonic() - self._last_tx) * 1000 >= self.heartbeat
            ):
                self.send(Heartbeat())

    def _handle(self, data: bytes) -> None:
        for b in data:
            self._partial.append(b)
            if b != 0:
                continue
            raw = bytes(self._partial)
            self._partial.clear()
            for item in self._decoder.feed(raw):
                if self.auto_ack and type(item).__name__ == "Hello":
                    self.send(self.ack)
                with self._cond:
                    self.received.append(Received(time.monotonic(), item, raw))
                    self._cond.notify_all()

    @property
    def last_tx(self) -> float:
        """time.monotonic() of our last write to the reader."""
        with self._lock:
            return self._last_tx

    def mark(self) -> int:
        with self._cond:
            return len(self.received)

    def messages(self, kind: type | None = None, since: int = 0) -> list[Received]:
        with self._cond:
            return [r for r in self.received[since:] if kind is None or isinstance(r.msg, kind)]

    def expect(
        self,
        kind: type,
        timeout: float = 5.0,
        since: int | None = None,
        pred: Callable[[Any], bool] | None = None,
    ) -> Received:
        start = self.mark() if since is None else since
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.received[start:]:
                    if isinstance(r.msg, kind) and (pred is None or pred(r.msg)):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [type(r.msg).__name__ for r in self.received[start:]]
                    raise AssertionError(f"no {kind.__name__} within {timeout} s; got {got}")
                self._cond.wait(min(left, 0.2))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.fd)

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
