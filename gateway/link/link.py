"""One supervised link per reader: open, handshake, serve swipes, survive unplugging.

The link owns the port and a `GatewayMachine`; it turns the machine's actions into
writes, swipe tasks and log events. A swipe is handled in its own task, so neither a
slow database nor the link being stopped can cut a reply in half; the reply is written
if the port is still there, and otherwise the reader's retransmission gets it from the
machine's cache of answers after the reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway import trace
from gateway.config import ReaderConfig
from gateway.domain import IncomingSwipe, event_key_for
from gateway.link.machine import Action, GatewayMachine, LinkState, Note, Process, Send
from gateway.link.serial_port import PortError, SerialPort
from gateway.link.ticker import Tick, Ticker
from gateway.link.watch import PathWatcher, PortWatch
from gateway.logs import get_logger
from gateway.protocol import Status
from gateway.protocol.constants import HEARTBEAT_LATE_MAX

BACKOFF_START_S = 0.05
BACKOFF_MAX_S = 1.0
# How long stop() waits for swipes being answered before closing the port.
STOP_GRACE_S = 4.0
# Heartbeat deadlines are rounded up to interval / this: at most 1/8 interval late,
# far inside the 3.5 intervals after which the reader calls the gateway gone.
TICK_GRID_PER_INTERVAL = 8
# The rounding is the lateness PROTOCOL.md 5.3 allows, with room for a busy loop.
assert 1 / TICK_GRID_PER_INTERVAL <= HEARTBEAT_LATE_MAX / 2


@dataclass(frozen=True)
class Answer:
    """What the handler decided: the RESULT to send and fields for the swipe's log event."""

    status: Status
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


SwipeHandler = Callable[[IncomingSwipe], Awaitable[Answer]]


class Link:
    def __init__(
        self,
        config: ReaderConfig,
        handler: SwipeHandler,
        *,
        heartbeat_ms: int,
        idle_text: str = "",
        refuse_text: str = "",
        refuse_mismatch: bool = False,
        watcher: PathWatcher | None = None,
        ticker: Ticker | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        # The configured role ("in"/"out") as the one type for it, from here on.
        self.direction = config.role
        self.handler = handler
        self.machine = GatewayMachine(
            self.direction,
            heartbeat_ms=heartbeat_ms,
            idle_text=idle_text,
            refuse_text=refuse_text,
            refuse_mismatch=refuse_mismatch,
        )
        self.log = get_logger("link", reader=config.name, port=config.port)
        # Wakes the backoff when the port's path appears; None: the backoff alone.
        self._watcher = watcher
        # The heartbeat timer shared with the other links (ticker.py); None: its own.
        self._ticker = ticker
        self._port: SerialPort | None = None
        self._answers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self._ever_up = False
        self._down_reason: str | None = None
        # Figures for the status file and the operator.
        self.swipes = 0
        self.reconnects = 0
        self.last_swipe_at: datetime | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run(), name=f"link-{self.name}")
        return self._task

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Finish the swipes being answered, close the port, end the task."""
        self._stopping = True
        if self._answers:
            await asyncio.wait(set(self._answers), timeout=grace_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._port is not None:
            await self._port.close()
            self._port = None
        self.log.info("link_stopped")

    @property
    def in_flight(self) -> int:
        """Swipes being handled right now."""
        return len(self._answers)

    @property
    def supervised(self) -> bool:
        """Its task is running: the port is served, or retried until it comes back."""
        return self._task is not None and not self._task.done()

    @property
    def state(self) -> LinkState:
        if self._stopping and (self._task is None or self._task.done()):
            return LinkState.STOPPED
        if self._port is None or not self._port.is_open:
            return LinkState.DOWN if self._task else LinkState.STARTING
        return self.machine.state

    # -- the supervising loop --------------------------------------------------------
    async def _run(self) -> None:
        backoff = BACKOFF_START_S
        # While the port cannot be opened: its path watched, so that a replugged reader
        # ends the backoff's wait at once.
        watch: PortWatch | None = None
        try:
            while not self._stopping:
                try:
                    port = await SerialPort.open(self.config.port, self.config.baud, self._on_data)
                except PortError as exc:
                    self._went_down(str(exc))
                    if watch is None and self._watcher is not None:
                        watch = self._watcher.watch(self.config.port)
                    if watch is None:
                        await asyncio.sleep(backoff)
                        woken = False
                    else:
                        woken = await watch.wait(backoff)
                    backoff = BACKOFF_START_S if woken else min(backoff * 2, BACKOFF_MAX_S)
                    continue
                except Exception as exc:  # a bug must not end the link for good: log, retry
                    self.log.error("link_open_failed", error=repr(exc), exc_info=True)
                    self._went_down(f"internal error: {exc!r}")
                    await asyncio.sleep(BACKOFF_MAX_S)
                    continue
                if watch is not None:
                    watch.close()
                    watch = None
                backoff = BACKOFF_START_S
                try:
                    await self._connected(port)
                except Exception as exc:  # the same: the port is closed, the link goes on
                    self.log.error("link_failed", error=repr(exc), exc_info=True)
                    self._went_down(f"internal error: {exc!r}")
                    await asyncio.sleep(BACKOFF_MAX_S)
        finally:
            if watch is not None:
                watch.close()

    async def _connected(self, port: SerialPort) -> None:
        """Serve an open port until it is lost; it is closed whatever happens."""
        self._port = port
        try:
            fields: dict[str, Any] = {"device": os.path.realpath(self.config.port)}
            if self._down_since is not None and self._ever_up:
                self.reconnects += 1
                fields["down_s"] = round(time.monotonic() - self._down_since, 3)
                self.log.info("link_reconnected", **fields)
            else:
                self.log.info("link_up", **fields)
            self._ever_up = True
            self._down_since = None
            self._execute(self.machine.opened(time.monotonic()))
            error = await self._serve(port)
        finally:
            self._port = None
            await port.close()
        if not self._stopping:
            self._went_down(error or "port closed")

    async def _serve(self, port: SerialPort) -> str | None:
        """Heartbeats and liveness until the port is lost; returns why it was lost."""
        # A plain callback per deadline: asyncio.wait() on the port's future every
        # interval cost a waiter future, callbacks and a timeout per reader per
        # heartbeat. The loop's clock is time.monotonic(), the machine's.
        if self._ticker is None:
            self._ticker = Ticker(asyncio.get_running_loop())
        ticker = self._ticker
        timer: Tick | None = None

        # Deadlines are rounded up to a grid shared by all links, so the heartbeats of
        # hundreds of idle readers go out in a few wake-ups a second, not one each,
        # and the ticker runs those due at one instant from one loop timer.
        grid = self.machine.interval / TICK_GRID_PER_INTERVAL

        def schedule() -> Tick:
            now = time.monotonic()
            due = max(self.machine.next_deadline(now), now + 0.01)
            return ticker.call_at(math.ceil(due / grid) * grid, tick)

        def tick() -> None:
            nonlocal timer
            try:
                self._execute(self.machine.tick(time.monotonic()))
            finally:  # a failing tick must not stop the heartbeats for good
                timer = schedule()

        timer = schedule()
        try:
            exc = await asyncio.shield(port.lost)
        finally:
            if timer is not None:
                timer.cancel()
        return str(exc) if exc else None

    def _went_down(self, reason: str) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._down_reason = reason
            self.log.warning("link_down", reason=reason)
        elif reason != self._down_reason:
            self._down_reason = reason
            self.log.info("link_still_down", reason=reason)

    # -- bytes in, actions out ---------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        if trace.ON:
            self._on_data_traced(data)
            return
        self._execute(self.machine.receive(data, time.monotonic()))

    def _on_data_traced(self, data: bytes) -> None:
        read = time.monotonic_ns()
        actions = self.machine.receive(data, time.monotonic())
        decoded = time.monotonic_ns()
        for action in actions:
            if isinstance(action, Process):
                key = _trace_key(action)
                trace.stamp(key, "read", read)
                trace.stamp(key, "decoded", decoded)
        self._execute(actions)

    def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                if self._port is not None:
                    self._port.write(action.data)
            elif isinstance(action, Process):
                if self._stopping:
                    continue  # the reader retransmits to the next daemon
                task = asyncio.create_task(self._answer(action, time.monotonic()))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)
            elif isinstance(action, Note):
                getattr(self.log, action.level)(action.event, **action.fields)

    async def _answer(self, proc: Process, started: float) -> None:
        if trace.ON:
            trace.stamp(_trace_key(proc), "task")
        received_at = datetime.now(UTC)
        swipe = IncomingSwipe(
            reader=self.name,
            direction=self.direction,
            hardware_id=proc.hardware_id,
            session=proc.session,
            seq=proc.swipe.seq,
            uid=proc.swipe.uid,
            received_at=received_at,
        )
        try:
            answer = await self.handler(swipe)
        except Exception as exc:  # the handler should not raise; if it does, still KO
            self.log.error("swipe_handler_failed", error=repr(exc), exc_info=True)
            answer = Answer(Status.KO, "Error", {"outcome": "error"})
        if trace.ON:
            trace.stamp(_trace_key(proc), "answered")
        actions = self.machine.complete(proc, answer.status, answer.text, time.monotonic())
        written = self._port is not None and self._port.is_open
        self._execute(actions)
        if trace.ON:
            trace.stamp(_trace_key(proc), "written")
        latency_ms = round((time.monotonic() - started) * 1000, 2)
        self.swipes += 1
        self.last_swipe_at = received_at
        self.log.info(
            "swipe",
            direction=self.direction.value,
            seq=proc.swipe.seq,
            card=proc.swipe.card_key,
            status=answer.status.name,
            **answer.fields,
            latency_ms=latency_ms,
            replied=written,
        )


def _trace_key(proc: Process) -> str:
    """The swipe's event key, which the later hops stamp under (gateway.trace)."""
    swipe = proc.swipe
    return str(event_key_for(proc.hardware_id, proc.session, swipe.seq, swipe.card_key))
