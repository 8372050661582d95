"""Issue 13 items 7, 13, 14, 16 and 17 (wrong version before HELLO): the gateway's link
machine as docs/PROTOCOL.md says, byte by byte with a hand-driven clock."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from gateway.clocking import ClockingService, Messages
from gateway.domain import (
    ClockEvent,
    Direction,
    Durability,
    IncomingSwipe,
    Person,
    SwipeStored,
    hardware_id_text,
)
from gateway.link.machine import GatewayMachine, Note, Process
from gateway.protocol import (
    Hello,
    Nak,
    NakReason,
    Status,
    Swipe,
    encode,
)
from gateway.protocol.cobs import encode as cobs_encode
from gateway.protocol.crc import crc16
from tests.link.test_machine import UID, notes, ready_machine, sent

OTHER = bytes.fromhex("04DEADBE")


def frame(version: int, mtype: int, seq: int, payload: bytes) -> bytes:
    body = bytes((version, mtype)) + seq.to_bytes(2, "big") + payload
    body += crc16(body).to_bytes(2, "big")
    return cobs_encode(body) + b"\x00"


# -- item 13: the hardware id is upper-case hex everywhere it is shown or stored ----------


def test_hardware_id_is_upper_case_hex_in_log_and_store() -> None:
    hw = bytes.fromhex("a1b2c3d4e5f60718")
    assert hardware_id_text(hw) == "A1B2C3D4E5F60718"
    s = GatewayMachine(Direction.IN, heartbeat_ms=1000)
    s.opened(0.0)
    acts = s.receive(encode(Hello(1, 1, hw, (1, 0, 0))), 0.1)
    hello = next(a for a in acts if isinstance(a, Note) and a.event == "reader_hello")
    assert hello.fields["hardware_id"] == "A1B2C3D4E5F60718"

    stored: list[ClockEvent] = []

    class Sink:
        async def record_swipe(self, event: ClockEvent) -> SwipeStored:
            stored.append(event)
            return SwipeStored(Person("ana", "Ana", True), Durability.DATABASE)

        def __getattr__(self, name: str) -> Any:
            raise AttributeError(name)

    service = ClockingService(Sink(), Messages(), 5.0)  # type: ignore[arg-type]
    swipe = IncomingSwipe("entrance", Direction.IN, hw, 1, 1, UID, datetime.now(UTC))
    asyncio.run(service.handle(swipe))
    assert stored[0].reader_hw_id == "A1B2C3D4E5F60718"


# -- item 14: a NAK is never answered, not even a malformed one ---------------------------


def test_a_malformed_nak_is_never_answered() -> None:
    for payload in (b"\x00\x00", b"\x08\x00", b"\xff\x01", b"\x01", b"\x01\x00\x00"):
        s = ready_machine()
        acts = s.receive(frame(1, 0x06, 4, payload), 5.0)
        assert sent(acts) == [], payload
    # Other bad payloads are still answered.
    s = ready_machine()
    acts = s.receive(frame(1, 0x03, 4, b"\x05" + UID), 5.0)
    assert sent(acts) == [Nak(NakReason.BAD_PAYLOAD, 0x03, 4)]


# -- item 17: a wrong version is answered before HELLO too -------------------------------


def test_another_version_gets_unsupported_version_before_hello() -> None:
    s = GatewayMachine(Direction.IN, heartbeat_ms=1000)
    s.opened(0.0)
    acts = s.receive(frame(2, 0x01, 0, bytes(16)), 0.1)
    assert sent(acts) == [Nak(NakReason.UNSUPPORTED_VERSION, 1, 0)]
    # Noise (bad CRC) is still dropped silently before HELLO.
    acts = s.receive(b"\x05\x01\x01\x02\x03\x00", 1.0)
    assert sent(acts) == []


# -- item 16: the same seq with another card is a new swipe -------------------------------


def test_same_seq_with_another_card_is_a_new_swipe() -> None:
    s = ready_machine()
    first = s.receive(encode(Swipe(7, UID)), 1.0)
    (proc,) = [a for a in first if isinstance(a, Process)]
    s.complete(proc, Status.OK, "In - Ana", 1.1)
    # The retransmission of the same card is answered from the cache.
    again = s.receive(encode(Swipe(7, UID)), 1.5)
    assert not [a for a in again if isinstance(a, Process)]
    assert len(sent(again)) == 1
    # Another card with the same seq: processed as a new swipe, and logged.
    other = s.receive(encode(Swipe(7, OTHER)), 2.0)
    procs = [a for a in other if isinstance(a, Process)]
    assert [p.swipe.uid for p in procs] == [OTHER]
    assert "swipe_seq_reused" in notes(other)
    answer = s.complete(procs[0], Status.KO, "Unknown card", 2.1)
    assert [m.seq for m in sent(answer)] == [7]
    # Each card's retransmission now gets its own RESULT.
    assert sent(s.receive(encode(Swipe(7, OTHER)), 2.5))[0].status is Status.KO
    assert sent(s.receive(encode(Swipe(7, UID)), 3.0))[0].status is Status.OK
    # In flight: another card with the seq of a swipe being processed is processed too.
    s.receive(encode(Swipe(8, UID)), 4.0)
    acts = s.receive(encode(Swipe(8, OTHER)), 4.1)
    assert [a.swipe.uid for a in acts if isinstance(a, Process)] == [OTHER]


# -- item 7: bad frames are summarised per reader per interval ----------------------------


def test_noise_is_summarised_not_logged_frame_by_frame() -> None:
    rng = random.Random(20261130)
    s = ready_machine()
    lines: list[Note] = []
    noise = bytearray()
    now = 1.0
    # 11 s of noise at 115200 baud (about 11.5 KB/s), fed in 64-byte chunks; a floating
    # line reads many zeros, so a third of the bytes are 0x00 (thousands of frames).
    while now < 12.0:
        chunk = bytes(0 if rng.random() < 0.35 else rng.randrange(1, 256) for _ in range(64))
        noise += chunk
        acts = s.receive(chunk, now)
        acts += s.tick(now)
        lines += [a for a in acts if isinstance(a, Note) and a.level != "debug"]
        now += 64 / 11520
    lines += [a for a in s.tick(30.0) if isinstance(a, Note) and a.level != "debug"]
    bad = [n for n in lines if n.event in ("bad_frame", "bad_frames")]
    frames = sum(1 for part in bytes(noise).split(b"\x00")[1:-1] if part)
    assert frames > 5000
    assert len(bad) <= 4, [n.event for n in bad]  # the first one, then one per 10 s
    summaries = [n for n in bad if n.event == "bad_frames"]
    assert summaries and all(
        n.fields["count"] == sum(n.fields["reasons"].values()) for n in summaries
    )
    counted = sum(n.fields["count"] for n in summaries) + sum(n.event == "bad_frame" for n in bad)
    assert abs(counted - frames) <= 2  # every bad frame counted (the first chunk's edge aside)
    assert "BAD_CRC" in summaries[0].fields["reasons"]
