"""Constructors validate; each message encodes to the documented layout and back."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.protocol import (
    MAX_TEXT,
    DecodeError,
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
    decode_frame,
    encode,
    encode_body,
    validate_text,
)

HW = bytes(range(1, 9))


def _round_trip(msg: Message) -> Message | DecodeError:
    frame = encode(msg)
    assert frame.endswith(b"\x00") and frame.count(0) == 1
    return decode_frame(frame[:-1])


def test_hello_layout() -> None:
    msg = Hello(Role.IN, 1, HW, (1, 0, 0))
    body = encode_body(msg)
    assert body[:4] == bytes.fromhex("01010000")
    assert body[4:-2] == bytes.fromhex("01 00000001 0102030405060708 010000")
    assert _round_trip(msg) == msg


def test_hello_ack_layout() -> None:
    msg = HelloAck(True, Role.IN, 1000, "Clock in")
    assert encode_body(msg)[4:-2] == bytes.fromhex("01 01 03E8 08") + b"Clock in"
    assert _round_trip(msg) == msg


def test_swipe_layout_and_card_key() -> None:
    msg = Swipe(1, bytes.fromhex("04a1b2c3"))
    assert encode_body(msg)[:-2] == bytes.fromhex("01030001 04 04A1B2C3")
    assert msg.card_key == "04A1B2C3"
    assert _round_trip(msg) == msg


def test_result_layout() -> None:
    msg = Result(1, Status.OK, "In - Ana")
    assert encode_body(msg)[:-2] == bytes.fromhex("01040001 02 08") + b"In - Ana"
    assert _round_trip(msg) == msg


def test_heartbeat_and_nak_layout() -> None:
    assert encode_body(Heartbeat())[:-2] == bytes.fromhex("01050000")
    nak = Nak(NakReason.UNKNOWN_TYPE, 9, 12)
    assert encode_body(nak)[:-2] == bytes.fromhex("0106000C 03 09")
    assert _round_trip(nak) == nak
    assert _round_trip(Heartbeat()) == Heartbeat()


def test_enums_are_normalised_from_ints() -> None:
    assert Result(1, 2, "").status is Status.OK  # type: ignore[arg-type]
    assert Nak(6).reason is NakReason.NOT_READY  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Hello(Role.IN, -1, HW, (1, 0, 0)), "session"),
        (lambda: Hello(Role.IN, 2**32, HW, (1, 0, 0)), "session"),
        (lambda: Hello(3, 1, HW, (1, 0, 0)), "role"),  # type: ignore[arg-type]
        (lambda: Hello(Role.IN, 1, HW[:7], (1, 0, 0)), "hardware_id"),
        (lambda: Hello(Role.IN, 1, HW, (1, 0)), "fw_version"),  # type: ignore[arg-type]
        (lambda: Hello(Role.IN, 1, HW, (1, 0, 256)), "fw_version"),
        (lambda: HelloAck(True, Role.UNSET, 1000, ""), "role"),
        (lambda: HelloAck(1, Role.IN, 1000, ""), "accepted"),  # type: ignore[arg-type]
        (lambda: HelloAck(True, Role.IN, 99, ""), "heartbeat_ms"),
        (lambda: HelloAck(True, Role.IN, 60001, ""), "heartbeat_ms"),
        (lambda: Swipe(0, b"\x01\x02\x03\x04"), "seq"),
        (lambda: Swipe(65536, b"\x01\x02\x03\x04"), "seq"),
        (lambda: Swipe(1, b"\x01\x02\x03\x04\x05"), "uid"),
        (lambda: Swipe(1, "04A1B2C3"), "uid"),  # type: ignore[arg-type]
        (lambda: Result(1, 1, ""), "status"),  # type: ignore[arg-type]
        (lambda: Result(0, Status.OK, ""), "seq"),
        (lambda: Result(1, Status.OK, "A" * 17), "line 1"),
        (lambda: Result(1, Status.OK, "a\nb\nc"), "lines"),
        (lambda: Result(1, Status.OK, "Mar\u00eda"), "non-printable"),
        (lambda: Result(1, Status.OK, "tab\there"), "non-printable"),
        (lambda: Nak(0), "reason"),  # type: ignore[arg-type]
        (lambda: Nak(NakReason.BAD_CRC, 256), "detail"),
        (lambda: Nak(NakReason.BAD_CRC, 0, -1), "seq"),
        (lambda: Nak(True), "reason"),  # type: ignore[arg-type]
    ],
)
def test_constructors_refuse_out_of_range_fields(factory: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


@pytest.mark.parametrize(
    "text", ["", "\n", "A" * 16, "A" * 16 + "\n" + "B" * 16, " ~", "Entrada - Ana"]
)
def test_valid_texts(text: str) -> None:
    validate_text(text)
    assert len(text) <= MAX_TEXT


@pytest.mark.parametrize(
    "text", ["A" * 17, "A\nB" + "C" * 16, "\n\n", "caf\u00e9", "a\rb", "\x7f", "\x00"]
)
def test_invalid_texts(text: str) -> None:
    with pytest.raises(ValueError):
        validate_text(text)


def test_messages_are_immutable_and_hashable() -> None:
    msg = Swipe(1, b"\x01\x02\x03\x04")
    with pytest.raises(AttributeError):
        msg.seq = 2  # type: ignore[misc]
    assert len({msg, Swipe(1, b"\x01\x02\x03\x04")}) == 1


def test_decode_error_describe_and_nak() -> None:
    frame = encode(Swipe(7, b"\x01\x02\x03\x04"))
    body = bytearray(frame[:-1])
    body[-1] ^= 0x01
    err = decode_frame(bytes(body))
    assert isinstance(err, DecodeError)
    line = err.describe()
    assert line.startswith("BAD_CRC") and "\n" not in line
    assert err.to_nak() == Nak(NakReason.BAD_CRC, 0, 0)


def test_encode_refuses_non_messages() -> None:
    with pytest.raises(TypeError):
        encode("HELLO")  # type: ignore[arg-type]
