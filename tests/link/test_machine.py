"""The gateway's protocol state machine for one reader, byte by byte, with a hand-driven clock."""

from __future__ import annotations

import pytest

from gateway.domain import Direction
from gateway.link.machine import GatewayMachine, LinkState, Note, Process, Send
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
    cobs,
    encode,
    encode_body,
)

HW = bytes.fromhex("0102030405060708")
UID = bytes.fromhex("04A1B2C3")


def sent(actions: list[object]) -> list[Message]:
    """The messages the machine wants written (the flush byte decodes to nothing)."""
    decoder = Decoder()
    out: list[Message] = []
    for action in actions:
        if isinstance(action, Send):
            out += [m for m in decoder.feed(action.data) if not isinstance(m, DecodeError)]
    return out


def notes(actions: list[object]) -> list[str]:
    return [a.event for a in actions if isinstance(a, Note)]


def ready_machine() -> GatewayMachine:
    s = GatewayMachine(Direction.IN, heartbeat_ms=1000, idle_text="Clock in")
    assert [a.data for a in s.opened(0.0) if isinstance(a, Send)] == [b"\x00"]
    s.receive(encode(Hello(Role.IN, 1, HW, (1, 0, 0))), 0.1)
    assert s.state is LinkState.READY
    return s


def test_hello_gets_ack_and_makes_ready() -> None:
    s = GatewayMachine(Direction.OUT, heartbeat_ms=500, idle_text="Clock out")
    s.opened(0.0)
    acts = s.receive(encode(Hello(Role.OUT, 9, HW, (1, 2, 3))), 0.1)
    assert sent(acts) == [HelloAck(True, Role.OUT, 500, "Clock out")]
    assert s.state is LinkState.READY and s.session == 9 and s.fw_version == (1, 2, 3)


def test_frames_before_hello_get_not_ready_and_noise_is_silent() -> None:
    s = GatewayMachine(Direction.IN, heartbeat_ms=1000)
    s.opened(0.0)
    noise = s.receive(b"\x13\x37garbage\x00\xff\x00", 0.1)
    # The first bad frame is noted, the next ones counted into a summary (issue 13 item 7).
    assert notes(noise) == ["frame_dropped"] and sent(noise) == []
    acts = s.receive(encode(Swipe(3, UID)), 0.5)
    assert sent(acts) == [Nak(NakReason.NOT_READY, 0, 3)]
    assert not [a for a in acts if isinstance(a, Process)]


def test_not_ready_naks_are_rate_limited() -> None:
    s = GatewayMachine(Direction.IN, heartbeat_ms=1000)
    s.opened(0.0)
    frames = encode(Swipe(1, UID)) * 3
    assert len(sent(s.receive(frames, 1.0))) == 1
    assert len(sent(s.receive(encode(Swipe(1, UID)), 1.1))) == 0
    assert len(sent(s.receive(encode(Swipe(1, UID)), 1.3))) == 1


def test_new_swipe_is_processed_once_and_in_flight_copies_are_ignored() -> None:
    s = ready_machine()
    acts = s.receive(encode(Swipe(1, UID)), 1.0)
    procs = [a for a in acts if isinstance(a, Process)]
    assert procs == [Process(Swipe(1, UID), HW, 1)]
    assert s.receive(encode(Swipe(1, UID)), 1.5) == []  # still in flight: nothing
    done = s.complete(procs[0], Status.OK, "In - Ana", 2.0)
    assert sent(done) == [Result(1, Status.OK, "In - Ana")]


def test_answered_swipe_gets_the_same_bytes_again_and_is_not_processed() -> None:
    s = ready_machine()
    (proc,) = [a for a in s.receive(encode(Swipe(4, UID)), 1.0) if isinstance(a, Process)]
    (first,) = [a for a in s.complete(proc, Status.KO, "Unknown card", 1.1) if isinstance(a, Send)]
    again = s.receive(encode(Swipe(4, UID)), 2.0)
    assert [a for a in again if isinstance(a, Send)] == [first]
    assert not [a for a in again if isinstance(a, Process)]
    assert "swipe_retransmitted" in notes(again)


def test_cache_survives_a_reopen_of_the_same_session_but_not_a_new_session() -> None:
    s = ready_machine()
    (proc,) = [a for a in s.receive(encode(Swipe(2, UID)), 1.0) if isinstance(a, Process)]
    s.complete(proc, Status.OK, "In - Ana", 1.1)
    s.opened(5.0)  # port reopened; the reader did not reset
    s.receive(encode(Hello(Role.IN, 1, HW, (1, 0, 0))), 5.1)
    assert sent(s.receive(encode(Swipe(2, UID)), 5.2)) == [Result(2, Status.OK, "In - Ana")]
    s.receive(encode(Hello(Role.IN, 2, HW, (1, 0, 0))), 6.0)  # rebooted: new session
    acts = s.receive(encode(Swipe(2, UID)), 6.1)
    assert [a for a in acts if isinstance(a, Process)] == [Process(Swipe(2, UID), HW, 2)]


def test_result_of_an_old_session_is_dropped() -> None:
    s = ready_machine()
    (proc,) = [a for a in s.receive(encode(Swipe(1, UID)), 1.0) if isinstance(a, Process)]
    s.receive(encode(Hello(Role.IN, 2, HW, (1, 0, 0))), 1.5)
    assert sent(s.complete(proc, Status.OK, "In - Ana", 2.0)) == []


def test_repeated_hello_gets_the_same_ack() -> None:
    s = ready_machine()
    acts = s.receive(encode(Hello(Role.IN, 1, HW, (1, 0, 0))), 0.5)
    assert sent(acts) == [HelloAck(True, Role.IN, 1000, "Clock in")]


def test_role_mismatch_warns_and_trusts_config_by_default() -> None:
    s = GatewayMachine(Direction.IN, heartbeat_ms=1000)
    s.opened(0.0)
    acts = s.receive(encode(Hello(Role.OUT, 1, HW, (1, 0, 0))), 0.1)
    assert "role_mismatch" in notes(acts)
    assert sent(acts) == [HelloAck(True, Role.IN, 1000, "")]
    unset = GatewayMachine(Direction.IN, heartbeat_ms=1000)
    unset.opened(0.0)
    assert "role_mismatch" not in notes(
        unset.receive(encode(Hello(Role.UNSET, 1, HW, (1, 0, 0))), 0.1)
    )


def test_role_mismatch_refused_when_configured() -> None:
    s = GatewayMachine(
        Direction.IN, heartbeat_ms=1000, refuse_text="Wrong reader", refuse_mismatch=True
    )
    s.opened(0.0)
    acts = s.receive(encode(Hello(Role.OUT, 1, HW, (1, 0, 0))), 0.1)
    assert sent(acts) == [HelloAck(False, Role.IN, 1000, "Wrong reader")]
    assert s.refused and s.state is LinkState.REFUSED
    assert sent(s.receive(encode(Swipe(1, UID)), 0.5)) == [Nak(NakReason.NOT_READY, 0, 1)]


def test_bad_crc_when_ready_gets_a_nak_but_a_nak_never_does() -> None:
    s = ready_machine()
    body = bytearray(encode_body(Swipe(5, UID)))
    body[-1] ^= 1
    acts = s.receive(cobs.encode(bytes(body)) + b"\x00", 1.0)
    assert sent(acts) == [Nak(NakReason.BAD_CRC, 0, 0)]
    assert "bad_frame" in notes(acts)
    assert sent(s.receive(encode(Nak(NakReason.BAD_CRC)), 2.0)) == []


def test_heartbeat_when_quiet_and_silent_after_three_and_a_half_intervals() -> None:
    s = ready_machine()  # last tx 0.1 (the ACK), last rx 0.1
    assert s.tick(0.5) == []
    assert sent(s.tick(1.1)) == [Heartbeat()]
    assert s.next_deadline(1.2) == pytest.approx(2.1)
    acts = s.tick(3.7)
    assert "reader_silent" in notes(acts) and s.state is LinkState.SILENT
    back = s.receive(encode(Heartbeat()), 4.0)
    assert "reader_back" in notes(back) and s.state is LinkState.READY
