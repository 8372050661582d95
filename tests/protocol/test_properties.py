"""Hypothesis properties of the codec (kept to modest example counts: the suite stays fast)."""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.protocol import (
    MAX_ENCODED,
    DecodeError,
    Decoder,
    Message,
    decode_frame,
    encode,
)
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
