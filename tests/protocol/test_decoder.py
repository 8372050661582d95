"""The incremental decoder: resynchronisation, bounded buffer, statistics."""

from __future__ import annotations

from gateway.protocol import (
    MAX_ENCODED,
    DecodeError,
    Decoder,
    Heartbeat,
    NakReason,
    Result,
    Status,
    Swipe,
    encode,
)

SWIPE = Swipe(3, bytes.fromhex("04A1B2C3"))
FRAME = encode(SWIPE)


def test_empty_frames_are_ignored() -> None:
    d = Decoder()
    assert d.feed(b"\x00\x00\x00" + FRAME + b"\x00") == [SWIPE]
    assert (d.frames_ok, d.frames_bad, d.bytes_dropped) == (1, 0, 0)


def test_byte_by_byte() -> None:
    d = Decoder()
    out = []
    for b in FRAME * 3:
        out += d.feed(bytes((b,)))
    assert out == [SWIPE] * 3
    assert d.pending == 0


def test_partial_frame_waits_for_its_delimiter() -> None:
    d = Decoder()
    assert d.feed(FRAME[:-1]) == []
    assert d.pending == len(FRAME) - 1
    assert d.feed(b"\x00") == [SWIPE]


def test_boot_garbage_then_frame() -> None:
    d = Decoder()
    out = d.feed(b"\xf0\xe1 bootloader \x7f\x00" + FRAME)
    assert len(out) == 2 and isinstance(out[0], DecodeError)
    assert out[1] == SWIPE
    assert d.bytes_dropped == len(b"\xf0\xe1 bootloader \x7f")


def test_over_long_frame_is_reported_once_and_skipped() -> None:
    d = Decoder()
    out = []
    noise = b"\x55" * 500
    for i in range(0, len(noise), 7):  # fed in chunks: still one report
        out += d.feed(noise[i : i + 7])
        assert d.pending <= MAX_ENCODED
    out += d.feed(b"\x00" + FRAME)
    assert len(out) == 2
    assert isinstance(out[0], DecodeError) and out[0].reason is NakReason.TOO_LONG
    assert out[0].raw == noise[:MAX_ENCODED]
    assert out[1] == SWIPE
    assert (d.frames_ok, d.frames_bad, d.bytes_dropped) == (1, 1, 500)


def test_frame_of_exactly_max_encoded_bytes_is_accepted() -> None:
    # The longest legal frame is 44 body bytes (RESULT with 33 text bytes): well within
    # the limit, and the 65-byte limit itself only counts bytes, not validity.
    d = Decoder()
    longest = encode(Result(1, Status.OK, "A" * 16 + "\n" + "B" * 16))
    assert len(longest) - 1 <= MAX_ENCODED
    assert d.feed(longest) == [Result(1, Status.OK, "A" * 16 + "\n" + "B" * 16)]
    (err,) = d.feed(b"\x41" * MAX_ENCODED + b"\x00")
    assert isinstance(err, DecodeError) and err.reason is not NakReason.TOO_LONG
    (err,) = d.feed(b"\x41" * (MAX_ENCODED + 1) + b"\x00")
    assert isinstance(err, DecodeError) and err.reason is NakReason.TOO_LONG


def test_reset_forgets_a_partial_frame() -> None:
    d = Decoder()
    d.feed(FRAME[:5])
    d.reset()
    assert d.pending == 0
    assert d.feed(FRAME) == [SWIPE]
    assert d.bytes_dropped == 5


def test_many_frames_in_one_chunk() -> None:
    msgs = [Swipe(i, bytes((0, i % 256, 0, 1))) for i in range(1, 200)] + [Heartbeat()]
    d = Decoder()
    assert d.feed(b"".join(encode(m) for m in msgs)) == msgs
    assert d.frames_ok == len(msgs)


def test_bytearray_input() -> None:
    d = Decoder()
    assert d.feed(bytearray(FRAME)) == [SWIPE]


def test_a_lone_heartbeat_frame_decodes_as_the_general_path_does() -> None:
    """The idle reader's frame has a short cut (Decoder.feed): same output and counts,
    and it is taken only on a frame boundary."""
    beat = encode(Heartbeat())
    fast, slow = Decoder(), Decoder()
    assert fast.feed(beat) == [Heartbeat()]
    assert slow.feed(beat[:3]) + slow.feed(beat[3:]) == [Heartbeat()]
    assert (fast.frames_ok, fast.frames_bad, fast.bytes_dropped) == (1, 0, 0)
    assert (slow.frames_ok, slow.frames_bad, slow.bytes_dropped) == (1, 0, 0)
    # Mid-frame, the same bytes end the partial frame: one bad frame, then the beat
    # bytes' own remainder is the start of the next one, as without the short cut.
    mid = Decoder()
    out = mid.feed(FRAME[:4]) + mid.feed(beat)
    assert len(out) == 1 and isinstance(out[0], DecodeError)
    assert mid.frames_ok == 0 and mid.pending == 0
    # While an over-long frame is being skipped, the beat's delimiter ends the skip.
    skipping = Decoder()
    skipping.feed(b"\x55" * (MAX_ENCODED + 1))
    assert skipping.feed(beat) == []
    assert skipping.feed(beat) == [Heartbeat()]
