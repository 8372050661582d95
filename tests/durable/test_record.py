"""The spool's record format as a pure function of bytes (gateway.durable.record).

No disk here: round trips, every kind of damage reported as a value, and the
property that no bytes at all make the decoder raise.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import ClockEvent, Direction, Outcome
from gateway.durable.record import (
    CUT_TAIL_WHY,
    GAP_WHY,
    HEADER,
    MAGIC,
    MAX_PAYLOAD,
    BadPayload,
    Decoded,
    Gap,
    Garbage,
    Numbering,
    decode_payload,
    encode_event,
    event_fields,
    frame,
    numbered,
    parse_records,
    record_seq,
)
from tests.reliability.support import make_event

# Any text a configuration or a card can hold (valid UTF-8: no lone surrogates).
_text = st.text(st.characters(codec="utf-8"), max_size=40)

events = st.builds(
    ClockEvent,
    event_key=st.uuids(),
    person_uid=_text,
    card_key=_text,
    direction=st.sampled_from(Direction),
    reader=_text,
    reader_hw_id=st.none() | _text,
    received_at=st.datetimes(timezones=st.just(UTC)),
    outcome=st.sampled_from(Outcome),
    gateway_id=_text,
)
seqs = st.integers(1, 2**63)


# -- round trips ---------------------------------------------------------------------


@given(events, seqs)
def test_a_version_2_record_round_trips(event: ClockEvent, seq: int) -> None:
    data = frame(numbered(event_fields(event), seq))
    parsed = parse_records(data, final=True)
    assert parsed.skipped == 0 and parsed.garbage == [] and parsed.consumed == len(data)
    [(end, payload)] = parsed.records
    assert end == len(data)
    assert decode_payload(payload, "elsewhere") == Decoded(seq, event)
    assert record_seq(payload) == seq


@given(events)
def test_a_version_1_record_round_trips(event: ClockEvent) -> None:
    payload = encode_event(event)
    assert payload.startswith(b"[1,")
    assert decode_payload(payload) == Decoded(None, event)
    assert record_seq(payload) is None


@given(st.lists(st.tuples(events, seqs), max_size=8), st.data())
def test_records_read_in_two_pieces_are_the_records_read_at_once(
    written: list[tuple[ClockEvent, int]], data: st.DataObject
) -> None:
    """As the segment reader does: a chunk that ends inside a record is not final."""
    buf = b"".join(frame(numbered(event_fields(e), s)) for e, s in written)
    cut = data.draw(st.integers(0, len(buf)))
    first = parse_records(buf[:cut], final=False)
    rest = parse_records(buf[first.consumed :], final=True)
    payloads = [p for _, p in first.records] + [p for _, p in rest.records]
    assert payloads == [numbered(event_fields(e), s) for e, s in written]
    assert first.skipped == rest.skipped == 0


def test_the_bytes_are_those_of_earlier_releases() -> None:
    """Spools on disk must replay after an upgrade: the layout is frozen."""
    event = ClockEvent(
        event_key=uuid.UUID("12345678-1234-5678-9abc-def012345678"),
        person_uid="P-0042",
        card_key="04a1b2c3d4",
        direction=Direction.IN,
        reader="entrance",
        reader_hw_id="cafe01",
        received_at=datetime(2026, 3, 2, 8, 59, 1, 123456, tzinfo=UTC),
        outcome=Outcome.RECORDED,
        gateway_id="hall-a",
    )
    fields = (
        b'"12345678123456789abcdef012345678","P-0042","04a1b2c3d4","in","entrance",'
        b'"cafe01",1772441941123456,"recorded","hall-a"]'
    )
    assert frame(numbered(event_fields(event), 7)) == (
        bytes.fromhex("c5700000007cf86504c4") + b"[2,7," + fields
    )
    assert frame(encode_event(event)) == bytes.fromhex("c5700000007adc25b177") + b"[1," + fields


def test_a_record_from_before_gateway_ids_gets_this_gateways_id() -> None:
    event = make_event(3)
    old = json.loads(encode_event(event, 4))[:-1]  # 8 event fields, no gateway id
    decoded = decode_payload(json.dumps(old).encode(), "hall-b")
    assert decoded == Decoded(4, dataclasses.replace(event, gateway_id="hall-b"))


# -- damage in a buffer, as values ---------------------------------------------------


def _rec(n: int) -> bytes:
    return frame(encode_event(make_event(n), n + 1))


def test_a_torn_tail_is_truncated_garbage() -> None:
    good, torn = _rec(0), _rec(1)[:-5]
    parsed = parse_records(good + torn, final=True)
    assert [p for _, p in parsed.records] == [good[HEADER.size :]]
    assert parsed.garbage == [Garbage(len(good), len(torn), "truncated")]
    assert parsed.consumed == len(good + torn)


def test_a_torn_header_at_the_end_is_truncated_garbage() -> None:
    parsed = parse_records(_rec(0)[:5], final=True)
    assert parsed.records == [] and parsed.garbage == [Garbage(0, 5, "truncated")]


def test_a_flipped_bit_is_a_bad_crc_and_the_next_record_is_found() -> None:
    bad = bytearray(_rec(0))
    bad[-3] ^= 0x10
    good = _rec(1)
    parsed = parse_records(bytes(bad) + good, final=True)
    assert [p for _, p in parsed.records] == [good[HEADER.size :]]
    assert parsed.garbage == [Garbage(0, len(bad), "bad_crc")]
    assert parsed.skipped_before(parsed.records[0][0]) == len(bad)


def test_an_impossible_length_is_bad_length() -> None:
    bad = HEADER.pack(MAGIC, MAX_PAYLOAD + 1, 0) + b"x" * 20
    parsed = parse_records(bad + _rec(2), final=True)
    assert len(parsed.records) == 1
    assert parsed.garbage == [Garbage(0, len(bad), "bad_length")]


def test_foreign_bytes_are_no_record() -> None:
    noise = b"\x00\x01not a record\xc5"
    parsed = parse_records(noise + _rec(0) + noise, final=True)
    assert len(parsed.records) == 1
    assert [g.why for g in parsed.garbage] == ["no_record", "no_record"]
    assert parsed.skipped == 2 * len(noise)


def test_without_final_a_partial_record_is_left_for_the_next_read() -> None:
    rec = _rec(0)
    parsed = parse_records(rec + rec[:-1], final=False)
    assert len(parsed.records) == 1 and parsed.consumed == len(rec) and parsed.garbage == []


# -- damage in a payload, as values --------------------------------------------------


def _fields(n: int = 1) -> list[object]:
    loaded: list[object] = json.loads(encode_event(make_event(n), 9))
    return loaded


def _bad(value: object) -> str:
    decoded = decode_payload(json.dumps(value).encode())
    assert isinstance(decoded, BadPayload), decoded
    return decoded.why


def test_every_payload_fault_is_a_value() -> None:
    for not_json in (b"\xff\xfe", b"[2,1,", b"[" * 5000, b"9" * 5000):
        decoded = decode_payload(not_json)
        assert isinstance(decoded, BadPayload) and decoded.why == "not_json", not_json
    assert _bad({"v": 2}) == "bad_version"
    assert _bad([3, *_fields()[2:]]) == "bad_version"
    assert _bad([]) == "bad_version"
    assert _bad([2]) == "bad_number"
    assert _bad([2, "7", *_fields()[2:]]) == "bad_number"
    assert _bad([2, True, *_fields()[2:]]) == "bad_number"
    assert _bad(_fields()[:-2]) == "bad_fields"  # too few fields
    assert _bad([*_fields(), "extra"]) == "bad_fields"
    fields = _fields()
    for at, value in [
        (2, "not-a-uuid"),
        (3, None),  # person
        (5, "sideways"),  # direction
        (7, 5),  # hardware id
        (8, "noon"),  # time
        (8, 10**30),  # a time beyond any datetime
        (9, "lost"),  # outcome
        (10, 42),  # gateway id
    ]:
        assert _bad([*fields[:at], value, *fields[at + 1 :]]) == "bad_fields", (at, value)


def test_record_seq_reads_only_a_plain_number() -> None:
    assert record_seq(b"[2,41,...") == 41
    assert record_seq(b"[2,-1,") is None
    assert record_seq(b"[2,") is None
    assert record_seq(b"[2," + b"9" * 30 + b",") is None  # too long for the checkpoint
    assert record_seq(b"[1,41,") is None


@given(st.binary(max_size=2 * MAX_PAYLOAD), st.booleans())
def test_no_bytes_make_the_decoder_raise(data: bytes, final: bool) -> None:
    parsed = parse_records(data, final=final)
    assert parsed.skipped == sum(g.length for g in parsed.garbage)
    covered = sum(HEADER.size + len(p) for _, p in parsed.records) + parsed.skipped
    assert covered == parsed.consumed <= len(data)
    if final:
        assert parsed.consumed == len(data)
    decode_payload(data)
    record_seq(data)


@given(st.lists(st.sampled_from([_rec(0), _rec(1)[:9], b"\xc5\x70", b"\xc5", b"zz"]), max_size=12))
def test_no_mix_of_records_and_pieces_makes_the_decoder_raise(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    parsed = parse_records(data, final=True)
    assert parsed.consumed == len(data)
    for _, payload in parsed.records:
        assert isinstance(decode_payload(payload), Decoded)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | _text,
        lambda inner: st.lists(inner, max_size=12),
        max_leaves=30,
    )
)
def test_no_json_makes_the_payload_decoder_raise(value: object) -> None:
    decode_payload(json.dumps(value).encode())


# -- record numbers ------------------------------------------------------------------


def test_numbering_reports_a_gap_and_a_cut_tail_as_values() -> None:
    numbers = Numbering(1)
    assert numbers.saw(1, 1) is None
    assert numbers.saw(None, 1) is None  # a version-1 record has no number
    assert numbers.saw(5, 2) == Gap(3, 2, 2, GAP_WHY)
    assert numbers.saw(4, 2) is None  # going back (a write taken back) is no loss
    assert numbers.tail(5) is None
    assert numbers.tail(8) == Gap(3, 6, None, CUT_TAIL_WHY)
    assert numbers.missing == 6 and numbers.found == 5


def test_numbering_from_an_unknown_start_reports_no_gap_first() -> None:
    numbers = Numbering(None)
    assert numbers.saw(40, 3) is None
    assert numbers.saw(42, 3) == Gap(1, 41, 3, GAP_WHY)
    assert numbers.found == 42
