"""The committed vectors agree with the codec, in both directions, byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.protocol import DecodeError, Decoder, decode_frame, encode, encode_body
from gateway.protocol.crc import crc16, crc16_bitwise
from tests.vectors.generate import VECTORS, message_of, render

DATA: dict[str, Any] = json.loads(VECTORS.read_text())


def test_committed_file_is_what_the_generator_produces() -> None:
    assert VECTORS.read_text() == render(), "run: .venv/bin/python -m tests.vectors.generate"


def test_crc_check_value() -> None:
    check = DATA["crc_check"]
    data = check["input_ascii"].encode()
    assert f"{crc16(data):04X}" == check["crc"] == "29B1"
    assert crc16_bitwise(data) == 0x29B1


@pytest.mark.parametrize("vector", DATA["valid"], ids=lambda v: v["name"])
def test_valid_vector(vector: dict[str, Any]) -> None:
    msg = message_of(vector["type"], vector["fields"])
    frame = bytes.fromhex(vector["frame_hex"])
    assert encode_body(msg).hex().upper() == vector["body_hex"]
    assert encode(msg) == frame
    assert frame.count(0) == 1 and frame.endswith(b"\x00")
    assert decode_frame(frame[:-1]) == msg
    decoder = Decoder()
    assert decoder.feed(frame) == [msg]
    assert (decoder.frames_ok, decoder.frames_bad, decoder.bytes_dropped) == (1, 0, 0)


@pytest.mark.parametrize("vector", DATA["invalid"], ids=lambda v: v["name"])
def test_invalid_vector(vector: dict[str, Any]) -> None:
    frame = bytes.fromhex(vector["frame_hex"])
    decoder = Decoder()
    (verdict,) = decoder.feed(frame)
    assert isinstance(verdict, DecodeError)
    assert verdict.reason.name == vector["verdict"]
    assert verdict.seq == vector["seq"]
    assert verdict.detail == vector["detail"]
    assert (decoder.frames_ok, decoder.frames_bad) == (0, 1)
    assert decoder.bytes_dropped == len(frame) - 1


def test_every_verdict_and_type_is_covered() -> None:
    verdicts = {v["verdict"] for v in DATA["invalid"]}
    assert verdicts == {
        "BAD_CRC",
        "UNSUPPORTED_VERSION",
        "UNKNOWN_TYPE",
        "TOO_LONG",
        "BAD_PAYLOAD",
        "BAD_FRAMING",
    }
    types = {v["type"] for v in DATA["valid"]}
    assert types == {"HELLO", "HELLO_ACK", "SWIPE", "RESULT", "HEARTBEAT", "NAK"}
    uid_lengths = {len(v["fields"]["uid"]) // 2 for v in DATA["valid"] if v["type"] == "SWIPE"}
    assert uid_lengths == {4, 7, 10}
    assert any("00" in _bytes_of(v["body_hex"][-4:]) for v in DATA["valid"])


def _bytes_of(hex_text: str) -> list[str]:
    return [hex_text[i : i + 2] for i in range(0, len(hex_text), 2)]
