"""A minimal gateway side of the protocol, to test the emulator without the daemon.

It opens the reader's port like a serial port (O_NOCTTY, raw, input flushed on open),
answers HELLO with HELLO_ACK, SWIPE with RESULT (the same RESULT again for a repeated
seq), HEARTBEAT with HEARTBEAT, and anything before HELLO with NAK NOT_READY.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from dataclasses import dataclass, field

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
    Status,
    Swipe,
    encode,
)


@dataclass
class MiniGateway:
    path: str
    known: dict[str, str] = field(default_factory=dict)  # card key -> name
    drop_swipes: int = 0  # ignore this many SWIPE frames (to force retransmissions)
    received: list[Message | DecodeError] = field(default_factory=list)
    swipes_recorded: list[tuple[int, int, str]] = field(default_factory=list)
    closed_by_peer: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.fd: int | None = None
        self.decoder = Decoder()
        self.session: int | None = None
        self.answers: dict[int, Result] = {}

    def open(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        termios.tcflush(fd, termios.TCIFLUSH)  # what pyserial does on open
        self.fd = fd
        self.decoder = Decoder()
        self.session = None
        self.closed_by_peer.clear()
        asyncio.get_running_loop().add_reader(fd, self._readable)
        os.write(fd, b"\x00")  # flush the reader's receiver (PROTOCOL.md 5.1)

    def close(self) -> None:
        if self.fd is not None:
            asyncio.get_running_loop().remove_reader(self.fd)
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def send(self, msg: Message) -> None:
        if self.fd is not None:
            os.write(self.fd, encode(msg))

    def _readable(self) -> None:
        assert self.fd is not None
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the PTY went away: the cable was pulled
            self.close()
            self.closed_by_peer.set()
            return
        for item in self.decoder.feed(data):
            self.received.append(item)
            self._handle(item)

    def _handle(self, item: Message | DecodeError) -> None:
        if isinstance(item, DecodeError):
            return  # the gateway sends no NAK for bad frames once it is talking
        if isinstance(item, Hello):
            if item.session != self.session:
                self.answers.clear()
            self.session = item.session
            self.send(HelloAck(True, Role.IN if item.role != Role.OUT else Role.OUT, 1000, "Idle"))
            return
        if self.session is None:
            if not isinstance(item, Nak):
                self.send(Nak(NakReason.NOT_READY, 0, getattr(item, "seq", 0)))
            return
        if isinstance(item, Heartbeat):
            self.send(Heartbeat())
        elif isinstance(item, Swipe):
            if item.seq in self.answers:
                self.send(self.answers[item.seq])
                return
            if self.drop_swipes > 0:
                self.drop_swipes -= 1
                return
            name = self.known.get(item.card_key)
            result = (
                Result(item.seq, Status.OK, f"In - {name}")
                if name
                else Result(item.seq, Status.KO, "Unknown card")
            )
            self.swipes_recorded.append((self.session, item.seq, item.card_key))
            self.answers[item.seq] = result
            self.send(result)
