"""Hypothesis properties of the codec (kept to modest example counts: the suite stays fast)."""

from __future__ import annotations

import dataclasses
import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocol import (
    MAX_ENCODED,
    DecodeError,
    Decoder,
    Message,
    NakReason,
    codec,
    decode_body,
    decode_frame,
    encode,
    encode_body,
)
from gateway.protocol.crc import crc16
from tests.protocol.strategies import messages
from tests.vectors.generate import VECTORS

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_ITEM = (DecodeError, *Message.__args__)


@SETTINGS
@given(messages)
def test_every_message_round_trips(msg: Message) -> None:
    frame = encode(msg)
    assert frame.count(0) == 1 and frame[-1] == 0
    assert len(frame) - 1 <= MAX_ENCODED
    assert decode_frame(frame[:-1]) == msg
    assert Decoder().feed(frame) == [msg]


@SETTINGS
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_any_byte_stream_never_raises(chunks: list[bytes]) -> None:
    d = Decoder()
    for chunk in chunks:
        out = d.feed(chunk)
        assert all(isinstance(item, _ITEM) for item in out)
        for item in out:
            if not isinstance(item, DecodeError):
                assert dataclasses.replace(item) == item
        assert d.pending <= MAX_ENCODED


# A stream mixing valid frames, noise and stray delimiters, with the points to cut it at.
_pieces = st.lists(
    st.one_of(messages.map(encode), st.binary(max_size=90), st.just(b"\x00")),
    max_size=10,
)


@SETTINGS
@given(_pieces, st.lists(st.integers(0, 2000), max_size=12))
def test_decoding_is_the_same_whatever_the_chunking(pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(pieces)
    whole = Decoder()
    expected = whole.feed(stream)
    chunked = Decoder()
    got = []
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        got += chunked.feed(stream[start:end])
    assert got == expected
    assert (chunked.frames_ok, chunked.frames_bad, chunked.bytes_dropped) == (
        whole.frames_ok,
        whole.frames_bad,
        whole.bytes_dropped,
    )
    assert chunked.pending == whole.pending


@SETTINGS
@given(st.binary(max_size=400), messages, st.integers(1, 64))
def test_valid_frame_after_garbage_is_recovered(garbage: bytes, msg: Message, step: int) -> None:
    stream = garbage + b"\x00" + encode(msg)
    d = Decoder()
    out = []
    for i in range(0, len(stream), step):
        out += d.feed(stream[i : i + step])
    assert out and out[-1] == msg


def _assert_flips_detected(frame: bytes) -> None:
    for bit in range(len(frame) * 8):
        flipped = bytearray(frame)
        flipped[bit // 8] ^= 1 << (bit % 8)
        # The trailing delimiter ends whatever the flip left unterminated.
        out = Decoder().feed(bytes(flipped) + b"\x00")
        decoded = [item for item in out if not isinstance(item, DecodeError)]
        assert decoded == [], f"bit {bit} flipped decoded as {decoded}"


@SETTINGS
@given(messages)
def test_any_single_flipped_bit_is_detected(msg: Message) -> None:
    _assert_flips_detected(encode(msg))


def test_every_single_bit_flip_of_every_vector_is_detected() -> None:
    for vector in json.loads(VECTORS.read_text())["valid"]:
        _assert_flips_detected(bytes.fromhex(vector["frame_hex"]))


def _slow_reference(body: bytes) -> Message | DecodeError:
    """decode_body without the fast paths: the generic parsers and validating constructors."""
    kind, seq = body[1], body[2] << 8 | body[3]
    try:
        return codec._PARSERS[kind](seq, body[4:-2])
    except (codec._BadPayload, ValueError):
        return DecodeError(NakReason.BAD_PAYLOAD, kind, seq, b"")


@SETTINGS
@given(st.sampled_from([3, 4, 5]), st.integers(0, 0xFFFF), st.binary(max_size=40))
def test_fast_paths_agree_with_the_validating_constructors(
    kind: int, seq: int, payload: bytes
) -> None:
    head = bytes((1, kind, seq >> 8, seq & 0xFF)) + payload
    body = head + crc16(head).to_bytes(2, "big")
    got = decode_body(body)
    expected = _slow_reference(body)
    if isinstance(expected, DecodeError):
        assert isinstance(got, DecodeError)
        assert (got.reason, got.detail, got.seq) == (expected.reason, expected.detail, expected.seq)
    else:
        assert got == expected
        assert dataclasses.replace(got) == got  # re-runs the constructor's checks


@SETTINGS
@given(messages, st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), max_size=3))
def test_mutated_frames_decode_only_to_valid_messages(
    msg: Message, edits: list[tuple[int, int]]
) -> None:
    body = bytearray(encode_body(msg)[:-2])
    for index, value in edits:
        if 4 <= index < len(body):  # keep the header: reach the payload parsers
            body[index] = value
    head = bytes(body)
    got = decode_body(head + crc16(head).to_bytes(2, "big"))
    if not isinstance(got, DecodeError):
        assert dataclasses.replace(got) == got
