"""The gateway's side of one reader link, without any I/O (docs/PROTOCOL.md section 5).

`GatewayMachine` is the gateway's protocol state machine for one reader (the reader's
own is `gateway.protocol.reader.ReaderMachine`). It eats bytes and the current time and
returns actions: bytes to write, swipes to process, things worth logging. The link
(gateway/link/link.py) performs them. Keeping the state machine here makes it testable
byte by byte without ports or asyncio. "Session" means one thing only: the reader's
boot session id, announced in HELLO (section 3).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.domain import Direction, hardware_id_text
from gateway.protocol import (
    GONE_AFTER_INTERVALS,
    NAK_MIN_INTERVAL_S,
    DecodeError,
    Decoder,
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
    encode,
    message_seq,
)

# Answered swipes remembered per session; the reader is stop-and-wait, so the last one
# is what matters, a few more cost nothing and cover a reader that retries late.
_ANSWERED_KEPT = 16
# Bad frames are logged as one summary per reader per this many seconds.
BAD_FRAME_SUMMARY_S = 10.0


class LinkState(StrEnum):
    """One reader's link as the gateway sees it (the status file's `link_state`).

    The machine knows AWAIT_HELLO, READY, SILENT and REFUSED; the link adds what only
    it can know: STARTING, DOWN and STOPPED.
    """

    STARTING = "starting"
    DOWN = "down"  # port absent or unusable; retrying
    AWAIT_HELLO = "await_hello"
    READY = "ready"
    SILENT = "silent"  # port open, reader quiet for 3.5 heartbeat intervals
    REFUSED = "refused"  # wrong role and configured to refuse
    STOPPED = "stopped"


# The configured direction as the wire spells it in HELLO_ACK (section 5.2).
_WIRE_ROLE = {Direction.IN: Role.IN, Direction.OUT: Role.OUT}


@dataclass(frozen=True)
class Send:
    """Write these bytes to the port."""

    data: bytes


@dataclass(frozen=True)
class Process:
    """A new swipe: answer it with `GatewayMachine.complete()` once it is handled."""

    swipe: Swipe
    hardware_id: bytes
    session: int


@dataclass(frozen=True)
class Note:
    """Something for the log: an event name and its fields."""

    event: str
    level: str = "info"
    fields: dict[str, Any] = field(default_factory=dict)


Action = Send | Process | Note


class GatewayMachine:
    def __init__(
        self,
        direction: Direction,
        *,
        heartbeat_ms: int,
        idle_text: str = "",
        refuse_text: str = "",
        refuse_mismatch: bool = False,
    ) -> None:
        self.direction = direction
        self.role = _WIRE_ROLE[direction]
        self.interval = heartbeat_ms / 1000.0
        self.heartbeat_ms = heartbeat_ms
        self.idle_text = idle_text
        self.refuse_text = refuse_text
        self.refuse_mismatch = refuse_mismatch
        self.decoder = Decoder()
        self._ready = False  # HELLO accepted since the port was opened
        self.hardware_id: bytes | None = None
        self.session: int | None = None  # the reader's boot session id, from HELLO
        self.fw_version: tuple[int, int, int] | None = None
        self.refused = False
        self.alive = False  # a valid frame within the last 3.5 intervals
        self.last_rx = 0.0
        self.last_tx = 0.0
        self._last_nak = float("-inf")
        # Swipes are known by (seq, UID): a reader that reuses a seq with another card
        # gets that card processed, never the first card's RESULT (PROTOCOL.md 5.3).
        self._in_flight: set[tuple[int, bytes]] = set()
        self._answered: OrderedDict[tuple[int, bytes], bytes] = OrderedDict()
        self._hello_ack = b""
        # Bad frames are summarised: the first of a quiet period is logged on its own,
        # the rest are counted by reason and logged once per BAD_FRAME_SUMMARY_S.
        self._bad_counts: Counter[str] = Counter()
        self._bad_since: float | None = None

    @property
    def state(self) -> LinkState:
        """AWAIT_HELLO, READY, SILENT or REFUSED."""
        if self.refused:
            return LinkState.REFUSED
        if not self._ready:
            return LinkState.AWAIT_HELLO
        return LinkState.READY if self.alive else LinkState.SILENT

    # -- lifecycle -----------------------------------------------------------------
    def opened(self, now: float) -> list[Action]:
        """The port was (re)opened: forget everything, flush the reader's receiver."""
        self.decoder.reset()
        self._ready = False
        self.refused = False
        self.alive = False
        self.last_rx = now
        self._in_flight.clear()
        # Hardware id and session are kept: a reader that did not reset keeps its session
        # and may retransmit an answered swipe, which must still hit the cache.
        return [self._send(b"\x00", now)]

    # -- input ---------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> list[Action]:
        actions: list[Action] = []
        for item in self.decoder.feed(data):
            if isinstance(item, DecodeError):
                self._bad_frame(item, now, actions)
            else:
                self._alive(now, actions)
                self._message(item, now, actions)
        return actions

    def _alive(self, now: float, actions: list[Action]) -> None:
        self.last_rx = now
        if not self.alive and self._ready:
            actions.append(Note("reader_back"))
        self.alive = self._ready

    def _bad_frame(self, err: DecodeError, now: float, actions: list[Action]) -> None:
        self._note_bad_frame(err, now, actions)
        if err.reason is NakReason.BAD_PAYLOAD and err.detail == MessageType.NAK:
            return  # a NAK is never answered, not even a malformed one (section 4.7)
        if not self._ready and err.reason is not NakReason.UNSUPPORTED_VERSION:
            # Boot noise after a reset: dropped silently (section 5.1). Another version
            # with a valid CRC is not noise: it is told what we speak, HELLO or not.
            return
        # A bad CRC on a SWIPE makes the reader retransmit at once instead of after 1 s.
        self._nak(err.to_nak(), now, actions)

    def _note_bad_frame(self, err: DecodeError, now: float, actions: list[Action]) -> None:
        # One noisy line at 115200 baud is thousands of bad frames a second: logging
        # each would drown the swipe and spool alerts (journald drops beyond its rate).
        if self._bad_since is None:
            self._bad_since = now
            event, level = ("bad_frame", "warning") if self._ready else ("frame_dropped", "debug")
            actions.append(Note(event, level, {"error": err.describe()}))
            return
        self._bad_counts[err.reason.name] += 1
        self._flush_bad_frames(now, actions)

    def _flush_bad_frames(self, now: float, actions: list[Action], *, force: bool = False) -> None:
        if self._bad_since is None or (not force and now - self._bad_since < BAD_FRAME_SUMMARY_S):
            return
        if self._bad_counts:
            fields = {
                "count": sum(self._bad_counts.values()),
                "reasons": dict(self._bad_counts),
                "window_s": round(now - self._bad_since, 1),
            }
            # Before HELLO it is boot noise, or a reader that sends nothing but noise.
            actions.append(Note("bad_frames", "warning" if self._ready else "info", fields))
            self._bad_counts.clear()
            self._bad_since = now  # the next window starts now; its first is counted
        else:
            self._bad_since = None  # a quiet window: the next bad frame is logged at once

    def _nak(self, nak: Nak, now: float, actions: list[Action]) -> None:
        if now - self._last_nak < NAK_MIN_INTERVAL_S:
            return
        self._last_nak = now
        actions.append(self._send(encode(nak), now))

    def _message(self, msg: Message, now: float, actions: list[Action]) -> None:
        if isinstance(msg, Hello):
            self._hello(msg, now, actions)
        elif isinstance(msg, Nak):
            # Never answered (no NAK storms); NOT_READY from a reader means nothing to us.
            actions.append(
                Note("reader_nak", "warning", {"reason": msg.reason.name, "seq": msg.seq})
            )
        elif not self._ready:
            self._nak(Nak(NakReason.NOT_READY, 0, message_seq(msg)), now, actions)
        elif isinstance(msg, Swipe):
            self._swipe(msg, now, actions)
        elif isinstance(msg, Heartbeat):
            pass
        else:  # HELLO_ACK or RESULT: only a gateway sends those
            actions.append(Note("unexpected_message", "warning", {"message": type(msg).__name__}))

    def _hello(self, hello: Hello, now: float, actions: list[Action]) -> None:
        same = hello.hardware_id == self.hardware_id and hello.session == self.session
        if same and self._ready:
            # Our HELLO_ACK was lost: the same answer again (section 5.1).
            actions.append(self._send(self._hello_ack, now))
            return
        if not same:
            self._in_flight.clear()
            self._answered.clear()
        mismatch = hello.role != Role.UNSET and hello.role != self.role
        self.hardware_id = hello.hardware_id
        self.session = hello.session
        self.fw_version = hello.fw_version
        fields: dict[str, Any] = {
            "hardware_id": hardware_id_text(hello.hardware_id),
            "session": hello.session,
            "firmware": ".".join(map(str, hello.fw_version)),
            "announced_role": hello.role.name,
        }
        if mismatch:
            actions.append(
                Note(
                    "role_mismatch",
                    "warning",
                    {
                        **fields,
                        "configured_role": self.role.name,
                        "hint": "the reader says it is the other one: cables swapped?",
                        "action": "refuse" if self.refuse_mismatch else "trust-config",
                    },
                )
            )
        if mismatch and self.refuse_mismatch:
            ack = HelloAck(False, self.role, self.heartbeat_ms, self.refuse_text)
            self._ready = False
            self.refused = True
        else:
            ack = HelloAck(True, self.role, self.heartbeat_ms, self.idle_text)
            self._ready = True
            self.refused = False
            self.alive = True
        self._hello_ack = encode(ack)
        actions.append(Note("reader_hello", "info", {**fields, "new_session": not same}))
        actions.append(self._send(self._hello_ack, now))

    def _swipe(self, swipe: Swipe, now: float, actions: list[Action]) -> None:
        key = (swipe.seq, swipe.uid)
        if key in self._in_flight:
            return  # its RESULT is on the way
        cached = self._answered.get(key)
        if cached is not None:
            actions.append(Note("swipe_retransmitted", "info", {"seq": swipe.seq}))
            actions.append(self._send(cached, now))
            return
        if any(seq == swipe.seq for seq, _uid in (*self._in_flight, *self._answered)):
            # A reader bug (a seq is never reused): handled as a new swipe, as it would
            # be after a gateway restart; its event key includes the card.
            actions.append(
                Note("swipe_seq_reused", "warning", {"seq": swipe.seq, "card": swipe.card_key})
            )
        assert self.hardware_id is not None and self.session is not None
        self._in_flight.add(key)
        actions.append(Process(swipe, self.hardware_id, self.session))

    def complete(self, proc: Process, status: Status, text: str, now: float) -> list[Action]:
        """A processed swipe's answer: cached for retransmissions, then sent."""
        if proc.hardware_id != self.hardware_id or proc.session != self.session:
            # The reader rebooted meanwhile; its new session may reuse this seq.
            return [Note("result_dropped", "info", {"seq": proc.swipe.seq, "why": "new session"})]
        key = (proc.swipe.seq, proc.swipe.uid)
        self._in_flight.discard(key)
        data = encode(Result(proc.swipe.seq, status, text))
        self._answered[key] = data
        while len(self._answered) > _ANSWERED_KEPT:
            self._answered.popitem(last=False)
        return [self._send(data, now)]

    # -- time ----------------------------------------------------------------------
    def tick(self, now: float) -> list[Action]:
        """Heartbeat when we have been quiet; notice a reader that went silent."""
        actions: list[Action] = []
        self._flush_bad_frames(now, actions)
        if not self._ready:
            return actions
        if now - self.last_tx >= self.interval:
            actions.append(self._send(_HEARTBEAT, now))
        if self.alive and now - self.last_rx >= GONE_AFTER_INTERVALS * self.interval:
            self.alive = False
            actions.append(
                Note("reader_silent", "warning", {"silent_s": round(now - self.last_rx, 2)})
            )
        return actions

    def next_deadline(self, now: float) -> float:
        """When `tick` next has something to do (at the latest one interval from now)."""
        if not self._ready:
            return now + self.interval
        due = self.last_tx + self.interval
        if self.alive:
            due = min(due, self.last_rx + GONE_AFTER_INTERVALS * self.interval)
        return max(due, now)

    def _send(self, data: bytes, now: float) -> Send:
        self.last_tx = now
        return Send(data)


# The same bytes every time: encoded once, not once per reader per interval.
_HEARTBEAT = encode(Heartbeat())
