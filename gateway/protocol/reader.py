"""The reader's side of the protocol as a sans-IO state machine (docs/PROTOCOL.md section 6).

No I/O and no clock: the caller passes `now` (seconds, monotonic) to every method,
feeds received messages and decode errors in, sends what `take_output()` returns, and
calls `poll(now)` no later than `next_deadline()`. The emulator drives it over a PTY;
tests drive it with a fake clock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum

from gateway.protocol.codec import DecodeError
from gateway.protocol.constants import (
    DEFAULT_HEARTBEAT_MS,
    GONE_AFTER_INTERVALS,
    HELLO_REFUSED_RETRY_S,
    HELLO_RETRY_S,
    MAX_SEQ,
    NAK_MIN_INTERVAL_S,
    RESULT_SHOW_S,
    SWIPE_RETRIES,
    SWIPE_RETRY_S,
)
from gateway.protocol.messages import (
    Heartbeat,
    Hello,
    HelloAck,
    Message,
    MessageType,
    Nak,
    NakReason,
    Result,
    Role,
    Status,
    Swipe,
)

FIRMWARE_VERSION = (1, 0, 0)
CONNECTING_SCREEN = ["Connecting...", ""]
OFFLINE_SCREEN = ["Offline", "Please wait"]
NO_ANSWER_SCREEN = ["No answer", "Try again"]
READY_TEXT = "Ready"


class ReaderState(Enum):
    """Where the reader stands with the gateway (the gateway's view is gateway.link.LinkState)."""

    CONNECTING = "connecting"  # sending HELLO every second
    REFUSED = "refused"  # HELLO_ACK said no: HELLO every 5 s
    ONLINE = "online"


# --- what the machine reports -----------------------------------------------------------


@dataclass(frozen=True)
class Online:
    heartbeat_ms: int
    role: Role
    text: str


@dataclass(frozen=True)
class Offline:
    """The gateway was silent for GONE_AFTER_INTERVALS heartbeat intervals."""


@dataclass(frozen=True)
class Refused:
    text: str


@dataclass(frozen=True)
class SwipeDone:
    """The end of one tap: the RESULT, or status None when the reader gave up."""

    seq: int
    uid: bytes
    status: Status | None
    text: str
    sends: int
    latency_s: float


@dataclass(frozen=True)
class Rebooted:
    """The reader restarted (a reset on port open, or seq space exhausted)."""

    session: int


ReaderEvent = Online | Offline | Refused | SwipeDone | Rebooted


@dataclass
class _Pending:
    swipe: Swipe
    tapped_at: float
    give_up_at: float
    next_try_at: float
    sends: int = 0


@dataclass
class ReaderCounters:
    frames_received: int = 0
    decode_errors: int = 0
    naks_received: int = 0
    naks_sent: int = 0
    hellos_sent: int = 0
    swipes_sent: int = 0
    heartbeats_sent: int = 0
    results_ignored: int = 0


@dataclass
class ReaderMachine:
    """One reader's protocol state. Create it, then call `start(now)`."""

    role: Role
    hardware_id: bytes
    session: int = field(default_factory=lambda: int.from_bytes(os.urandom(4), "big"))
    fw_version: tuple[int, int, int] = FIRMWARE_VERSION

    def __post_init__(self) -> None:
        self.state = ReaderState.CONNECTING
        self.heartbeat_s = DEFAULT_HEARTBEAT_MS / 1000
        self.idle_text = ""
        self.lcd: list[str] = list(CONNECTING_SCREEN)
        self.counters = ReaderCounters()
        self._out: list[Message] = []
        self._events: list[ReaderEvent] = []
        self._next_seq = 1
        self._pending: _Pending | None = None
        self._hello_at = 0.0  # next HELLO while not online
        self._last_rx = 0.0
        self._last_tx = 0.0
        self._last_nak = -1e9
        self._screen_until: float | None = None  # a RESULT text shown until then
        # Validates the fields once, up front.
        Hello(self.role, self.session, self.hardware_id, self.fw_version)

    # --- inputs ---------------------------------------------------------------------------

    def start(self, now: float) -> None:
        self._hello_at = now
        self._last_rx = now
        self.poll(now)

    def tap(self, uid: bytes, now: float) -> int | None:
        """A card was tapped: the SWIPE's seq, or None if one is still pending."""
        if self._pending is not None:
            return None
        if self._next_seq > MAX_SEQ:
            # Section 3: a new session before seq would pass 65535.
            self.reboot(now, session=(self.session + 1) & 0xFFFFFFFF)
        swipe = Swipe(self._next_seq, uid)
        self._next_seq += 1
        give_up = now + (SWIPE_RETRIES + 1) * SWIPE_RETRY_S
        self._pending = _Pending(swipe, now, give_up, now)
        self.poll(now)
        return swipe.seq

    def receive(self, item: Message | DecodeError, now: float) -> None:
        """A message (or a decode error) from the gateway."""
        if isinstance(item, DecodeError):
            self.counters.decode_errors += 1
            self._nak(item, now)
            return
        self.counters.frames_received += 1
        self._last_rx = now  # any valid frame is a sign of life
        if isinstance(item, HelloAck):
            self._hello_ack(item, now)
        elif isinstance(item, Result):
            self._result(item, now)
        elif isinstance(item, Nak):
            self._on_nak(item, now)
        # HEARTBEAT: the sign of life above is all it means. HELLO/SWIPE are not for us.
        self.poll(now)

    def reboot(self, now: float, session: int | None = None) -> None:
        """Start again as after a power-on: new session, pending SWIPE lost, HELLO now."""
        if self._pending is not None:
            self._finish(None, "", now)
        self.session = session if session is not None else int.from_bytes(os.urandom(4), "big")
        self._next_seq = 1
        self._events.append(Rebooted(self.session))
        self._go_connecting(now, CONNECTING_SCREEN)

    def host_opened(self, now: float, *, reset: bool = False) -> None:
        """The host opened the port (and flushed what we had sent).

        An Uno resets on open (`reset=True`): a new session. A board that does not reset
        just sends HELLO again at once if it is not online, since the flush lost it.
        """
        if reset:
            self.reboot(now)
        elif self.state is not ReaderState.ONLINE:
            self._hello_at = now
            self.poll(now)

    def abandon(self, now: float) -> None:
        """Give up the pending SWIPE now (the caller stopped waiting)."""
        if self._pending is not None:
            self._finish(None, "", now)

    def poll(self, now: float) -> None:
        """Run the timers that are due."""
        if self._screen_until is not None and now >= self._screen_until:
            self._screen_until = None
            self._show_idle()
        # Each timer compares `now` with exactly the sum next_deadline() returns: written
        # as a difference, float rounding could leave a deadline due but never fired.
        if self.state is ReaderState.ONLINE and now >= self._last_rx + self._gone_after():
            self._events.append(Offline())
            self._go_connecting(now, OFFLINE_SCREEN)
        if self.state is not ReaderState.ONLINE and now >= self._hello_at:
            self._send(Hello(self.role, self.session, self.hardware_id, self.fw_version), now)
            self.counters.hellos_sent += 1
            retry = HELLO_REFUSED_RETRY_S if self.state is ReaderState.REFUSED else HELLO_RETRY_S
            self._hello_at = now + retry
        pending = self._pending
        if pending is not None and now >= pending.next_try_at:
            if pending.sends >= SWIPE_RETRIES + 1 or now >= pending.give_up_at - 1e-6:
                self._finish(None, "", now)
            else:
                # While offline the slot passes without a send; the SWIPE goes out as soon
                # as the gateway acknowledges HELLO again.
                if self.state is ReaderState.ONLINE:
                    self._send_swipe(pending, now)
                pending.next_try_at = now + SWIPE_RETRY_S
        if self.state is ReaderState.ONLINE and now >= self._last_tx + self.heartbeat_s:
            self._send(Heartbeat(), now)
            self.counters.heartbeats_sent += 1

    # --- outputs --------------------------------------------------------------------------

    def take_output(self) -> list[Message]:
        out, self._out = self._out, []
        return out

    def take_events(self) -> list[ReaderEvent]:
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float:
        """The latest time `poll` must be called (an input may make it earlier)."""
        times = []
        if self.state is ReaderState.ONLINE:
            times.append(self._last_tx + self.heartbeat_s)
            times.append(self._last_rx + self._gone_after())
        else:
            times.append(self._hello_at)
        if self._pending is not None:
            times.append(self._pending.next_try_at)
        if self._screen_until is not None:
            times.append(self._screen_until)
        return min(times)

    @property
    def online(self) -> bool:
        return self.state is ReaderState.ONLINE

    @property
    def pending_seq(self) -> int | None:
        return self._pending.swipe.seq if self._pending else None

    # --- internals ------------------------------------------------------------------------

    def _gone_after(self) -> float:
        return GONE_AFTER_INTERVALS * self.heartbeat_s

    def _send(self, msg: Message, now: float) -> None:
        self._out.append(msg)
        self._last_tx = now

    def _send_swipe(self, pending: _Pending, now: float) -> None:
        self._send(pending.swipe, now)
        pending.sends += 1
        self.counters.swipes_sent += 1

    def _go_connecting(self, now: float, screen: list[str]) -> None:
        self.state = ReaderState.CONNECTING
        self._hello_at = now
        self._screen_until = None
        self.lcd = list(screen)

    def _hello_ack(self, ack: HelloAck, now: float) -> None:
        if not ack.accepted:
            self.state = ReaderState.REFUSED
            self._hello_at = now + HELLO_REFUSED_RETRY_S
            self._set_lcd(ack.text)
            self._events.append(Refused(ack.text))
            return
        self.heartbeat_s = ack.heartbeat_ms / 1000
        self.idle_text = ack.text
        if self.state is ReaderState.ONLINE:
            return  # a repeated ACK (our HELLO was retried): nothing new
        self.state = ReaderState.ONLINE
        if self._screen_until is None:
            self._show_idle()
        self._events.append(Online(ack.heartbeat_ms, ack.role, ack.text))
        pending = self._pending
        if pending is not None and pending.sends < SWIPE_RETRIES + 1:
            # Section 6.1: retransmit the pending SWIPE after the ACK.
            self._send_swipe(pending, now)
            pending.next_try_at = now + SWIPE_RETRY_S

    def _result(self, result: Result, now: float) -> None:
        pending = self._pending
        if pending is None or result.seq != pending.swipe.seq:
            self.counters.results_ignored += 1  # a late duplicate
            return
        self._finish(result.status, result.text, now)
        # Empty text: the reader shows its own screen (PROTOCOL.md section 4.1).
        self._set_lcd(result.text or ("OK" if result.status is Status.OK else "KO"))
        self._screen_until = now + RESULT_SHOW_S

    def _on_nak(self, nak: Nak, now: float) -> None:
        self.counters.naks_received += 1
        if nak.reason is NakReason.NOT_READY:
            # The gateway restarted without resetting us: HELLO at once, same session.
            self._go_connecting(now, CONNECTING_SCREEN)
        elif nak.reason is NakReason.BAD_CRC:
            pending = self._pending
            if (
                pending is not None
                and self.state is ReaderState.ONLINE
                and pending.sends < SWIPE_RETRIES + 1
            ):
                self._send_swipe(pending, now)
                pending.next_try_at = now + SWIPE_RETRY_S

    def _nak(self, error: DecodeError, now: float) -> None:
        """Answer a bad frame, except a NAK, at most once per NAK_MIN_INTERVAL_S."""
        if error.reason is NakReason.BAD_PAYLOAD and error.detail == MessageType.NAK:
            return
        if now < self._last_nak + NAK_MIN_INTERVAL_S:
            return
        self._last_nak = now
        self._send(error.to_nak(), now)
        self.counters.naks_sent += 1

    def _finish(self, status: Status | None, text: str, now: float) -> None:
        pending = self._pending
        assert pending is not None
        self._pending = None
        self._events.append(
            SwipeDone(
                pending.swipe.seq,
                pending.swipe.uid,
                status,
                text,
                pending.sends,
                now - pending.tapped_at,
            )
        )
        if status is None:
            self.lcd = list(NO_ANSWER_SCREEN)
            self._screen_until = now + RESULT_SHOW_S

    def _set_lcd(self, text: str) -> None:
        lines = text.split("\n") if text else []
        self.lcd = ([*lines, "", ""])[:2]

    def _show_idle(self) -> None:
        if self.state is ReaderState.ONLINE:
            self._set_lcd(self.idle_text or READY_TEXT)
        elif self.state is ReaderState.CONNECTING:
            self.lcd = list(CONNECTING_SCREEN)
