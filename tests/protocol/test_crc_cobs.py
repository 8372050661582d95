"""CRC-16/CCITT-FALSE and COBS, including the 254/255-byte block boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.protocol import cobs
from gateway.protocol.crc import CHECK_VALUE, crc16, crc16_bitwise


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == CHECK_VALUE == 0x29B1


def test_crc_is_not_a_reflected_variant() -> None:
    # Kermit (0x2189) and X.25 (0x906E) are what "CRC-16/CCITT" often means elsewhere.
    assert crc16(b"123456789") not in (0x2189, 0x906E)


def test_crc_of_empty_input_is_the_initial_value() -> None:
    assert crc16(b"") == 0xFFFF


@settings(max_examples=200)
@given(st.binary(max_size=80))
def test_crc_matches_the_bitwise_reference(data: bytes) -> None:
    assert crc16(data) == crc16_bitwise(data)


@pytest.mark.parametrize(
    ("body", "encoded"),
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    ],
)
def test_cobs_known_encodings(body: bytes, encoded: bytes) -> None:
    # The examples of the COBS paper and of its common descriptions.
    assert cobs.encode(body) == encoded
    assert cobs.decode(encoded) == body


def _run(n: int) -> bytes:
    return bytes((i % 255) + 1 for i in range(n))


def test_cobs_253_bytes_is_one_block() -> None:
    enc = cobs.encode(_run(253))
    assert enc[0] == 0xFE and len(enc) == 254
    assert cobs.decode(enc) == _run(253)


def test_cobs_254_bytes_uses_a_full_block_and_a_final_code() -> None:
    enc = cobs.encode(_run(254))
    assert enc == b"\xff" + _run(254) + b"\x01"
    assert cobs.decode(enc) == _run(254)
    # The shorter encoding without the final 0x01 decodes to the same body.
    assert cobs.decode(enc[:-1]) == _run(254)


def test_cobs_255_bytes_spills_into_a_second_block() -> None:
    enc = cobs.encode(_run(255))
    assert enc == b"\xff" + _run(254) + b"\x02" + _run(255)[254:]
    assert cobs.decode(enc) == _run(255)


def test_cobs_254_bytes_then_zero() -> None:
    body = _run(254) + b"\x00" + b"\x07"
    enc = cobs.encode(body)
    assert enc == b"\xff" + _run(254) + b"\x01\x02\x07"
    assert cobs.decode(enc) == body


@settings(max_examples=200)
@given(st.binary(max_size=700))
def test_cobs_round_trip_without_zeros(body: bytes) -> None:
    enc = cobs.encode(body)
    assert 0 not in enc
    assert len(enc) <= len(body) + 1 + len(body) // 254
    assert cobs.decode(enc) == body


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x05\x01\x02", b"\x02\x01\x09\x01", b"\x03\x01\x00", b"\x00"],
)
def test_cobs_rejects_invalid_encodings(bad: bytes) -> None:
    with pytest.raises(cobs.CobsError):
        cobs.decode(bad)
