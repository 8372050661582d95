"""The spool's record format, pure: events to bytes and bytes back, no I/O at all.

Kept apart from the files (gateway.durable.segments) and the async spool
(gateway.durable.spool) for the reason gateway.protocol keeps its codec apart from
the serial port: the format is what must stay readable across releases and across a
power cut, and a pure function of bytes can be tested on any bytes, torn or random,
without a disk. Nothing here raises on bad input: whatever the data, the answer is
records plus the damage found, as values.

A record is `magic(2) | payload length(4) | crc32(payload)(4) | payload`, big-endian,
the payload a compact JSON array: `[2, seq, event fields...]` (record version 2),
where `seq` numbers the records of a spool 1, 2, 3... without a gap, so that a
deleted segment or a cut tail can be reported with the number of records missing.
Version-1 records (`[1, event fields...]`, no number) from an older release are still
read, and so are records written before gateways had ids (the ninth field missing).

A write torn by a power cut fails the length or checksum test and is skipped, never
mis-read; the reader then resynchronises on the next magic whose record checks out.
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from gateway.domain import DEFAULT_GATEWAY_ID, ClockEvent, Direction, Outcome

MAGIC = b"\xc5\x70"  # 0xC5 0x70 never occurs in UTF-8 text, so never inside a payload
HEADER = struct.Struct(">2sII")  # magic, payload length, crc32 of the payload
MAX_PAYLOAD = 4096  # far above any real event; a larger length is corruption
RECORD_VERSION = 2  # written; version 1 (no sequence number) is still read
NUMBER_ROOM = 24  # bytes "[2,<seq>," may add to event_fields(), at most
_MAX_SEQ_DIGITS = 19  # any number of this many digits fits the checkpoint's 64 bits
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- encoding ------------------------------------------------------------------------


def event_fields(event: ClockEvent) -> bytes:
    """The event's fields as a JSON array (without version and number).

    Raises ValueError for an event without its person: storage looks the card up
    before an event is spooled, so that is a bug, not data.
    """
    if event.person_uid is None:
        raise ValueError("an event without its person cannot be spooled")
    micros = (event.received_at - _EPOCH) // timedelta(microseconds=1)
    fields = [
        event.event_key.hex,
        event.person_uid,
        event.card_key,
        event.direction.value,
        event.reader,
        event.reader_hw_id,
        micros,
        event.outcome.value,
        event.gateway_id,
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def numbered(fields: bytes, seq: int) -> bytes:
    """A version-2 payload from event_fields() and the record's sequence number.

    Split from event_fields() because the number is given only when the record is
    written (in file order, by the group commit), long after the fields were encoded.
    """
    return b"[2,%d," % seq + fields[1:]


def encode_event(event: ClockEvent, seq: int | None = None) -> bytes:
    """The record payload: version 2 with `seq`, else the version-1 layout (tests, tools)."""
    tail = event_fields(event)
    if seq is None:
        return b"[1," + tail[1:]
    return numbered(tail, seq)


def frame(payload: bytes) -> bytes:
    """The payload with its header; ValueError when it is longer than MAX_PAYLOAD."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"record of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


# -- decoding one payload ------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    """A payload that holds an event; `seq` is None for a version-1 record."""

    seq: int | None
    event: ClockEvent


PayloadFault = Literal["not_json", "bad_version", "bad_number", "bad_fields"]


@dataclass(frozen=True)
class BadPayload:
    """A payload that checks out (length, CRC) but holds no event this code can read.

    `why`: not_json (not UTF-8 JSON at all), bad_version (not a version-1 or -2
    record), bad_number (a version-2 record without its number), bad_fields (the
    event's fields have the wrong count, type or value).
    """

    why: PayloadFault
    detail: str


def decode_payload(payload: bytes, gateway_id: str = DEFAULT_GATEWAY_ID) -> Decoded | BadPayload:
    """The event in a payload, or why there is none; never raises.

    Records written before gateways had ids end after the outcome: this gateway made
    them, so they get `gateway_id`, this gateway's id, when they are replayed.
    """
    try:
        fields = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError
        return BadPayload("not_json", f"undecodable record: {exc}")
    if not isinstance(fields, list) or fields[:1] not in ([1], [2]):
        return BadPayload("bad_version", f"unsupported record {_head(fields)!r}")
    seq: int | None = None
    if fields[:1] == [2]:
        if len(fields) < 2 or not isinstance(fields[1], int) or isinstance(fields[1], bool):
            return BadPayload("bad_number", "record number expected")
        seq, fields = fields[1], fields[2:]
    else:
        fields = fields[1:]
    return _event(seq, fields, gateway_id)


def _head(fields: object) -> str:
    """The start of a decoded value, for a message (str() of a huge int may refuse)."""
    try:
        return str(fields)[:20]
    except ValueError:
        return type(fields).__name__


def _event(seq: int | None, fields: list[object], gateway_id: str) -> Decoded | BadPayload:
    gateway: object = gateway_id
    if len(fields) == 9:
        *fields, gateway = fields
    if len(fields) != 8:
        return BadPayload("bad_fields", f"{len(fields)} event fields, 8 or 9 expected")
    key, person, card, direction, reader, hw_id, micros, outcome = fields
    if not isinstance(micros, int):
        return BadPayload("bad_fields", "time field expected")
    if not (
        isinstance(key, str)
        and isinstance(person, str)
        and isinstance(card, str)
        and isinstance(direction, str)
        and isinstance(reader, str)
        and isinstance(outcome, str)
        and isinstance(gateway, str)
    ):
        return BadPayload("bad_fields", "text field expected")
    if hw_id is not None and not isinstance(hw_id, str):
        return BadPayload("bad_fields", "hardware id must be text")
    try:
        event = ClockEvent(
            event_key=uuid.UUID(hex=key),
            person_uid=person,
            card_key=card,
            direction=Direction(direction),
            reader=reader,
            reader_hw_id=hw_id,
            received_at=_EPOCH + timedelta(microseconds=micros),
            outcome=Outcome(outcome),
            gateway_id=gateway,
        )
    except (ValueError, TypeError, OverflowError) as exc:  # key, direction, outcome, time
        return BadPayload("bad_fields", f"undecodable record: {exc}")
    return Decoded(seq, event)


def decode_record(
    payload: bytes, gateway_id: str = DEFAULT_GATEWAY_ID
) -> tuple[int | None, ClockEvent]:
    """(sequence number or None for version 1, event); ValueError when undecodable."""
    decoded = decode_payload(payload, gateway_id)
    if isinstance(decoded, BadPayload):
        raise ValueError(decoded.detail)
    return decoded.seq, decoded.event


def decode_event(payload: bytes, gateway_id: str = DEFAULT_GATEWAY_ID) -> ClockEvent:
    """The event in a payload; ValueError when it is not a version-1 or -2 event."""
    return decode_record(payload, gateway_id)[1]


def record_seq(payload: bytes) -> int | None:
    """The sequence number of a version-2 payload without decoding the rest; else None.

    Read at start for every record on disk, where a full decode would cost most of
    the time; a payload whose number this does not find has none for numbering either.
    """
    if not payload.startswith(b"[2,"):
        return None
    end = payload.find(b",", 3)
    digits = payload[3:end]
    if end <= 3 or len(digits) > _MAX_SEQ_DIGITS or not digits.isdigit():
        return None
    return int(digits)


# -- splitting a buffer into records -------------------------------------------------


GarbageKind = Literal["truncated", "bad_crc", "bad_length", "no_record"]


@dataclass(frozen=True)
class Garbage:
    """Bytes skipped because no valid record starts there, and why, from their start.

    `why`: truncated (a header whose record runs past the end of the data: a write
    torn by a power cut, or a damaged length), bad_crc (a whole record whose payload
    fails its checksum: a flipped bit), bad_length (a length above MAX_PAYLOAD),
    no_record (no magic at all: the rest of a torn record, or foreign bytes).
    """

    offset: int  # in the buffer given to parse_records
    length: int
    why: GarbageKind


@dataclass
class Parsed:
    records: list[tuple[int, bytes]]  # (end offset in buf, payload)
    consumed: int  # bytes of buf fully accounted for (records and skipped garbage)
    skipped: int  # garbage bytes skipped
    garbage: list[Garbage] = field(default_factory=list)  # the same bytes, by place

    def skipped_before(self, end: int) -> int:
        """Garbage bytes skipped before offset `end` (the end of a record taken)."""
        return sum(g.length for g in self.garbage if g.offset < end)


def parse_records(buf: bytes, *, final: bool) -> Parsed:
    """Split `buf` into records, skipping anything that does not check out.

    `final` says nothing follows `buf`: a trailing incomplete or corrupt piece is then
    garbage (a torn write) and is consumed as skipped. Otherwise the parse stops before
    it, because the rest of the record may simply not have been read yet.
    """
    out: list[tuple[int, bytes]] = []
    garbage: list[Garbage] = []
    at = skipped = 0
    view = memoryview(buf)
    while at < len(buf):
        payload = _record_at(view, at)
        if payload is not None:
            at += HEADER.size + len(payload)
            out.append((at, payload))
            continue
        if not final and _may_be_incomplete(view, at):
            break
        nxt = _resync(buf, view, at + 1)
        if nxt is None:
            # Without `final`, a valid record may straddle the end of this chunk: keep
            # its possible start for the next read.
            nxt = len(buf) if final else max(at + 1, len(buf) - (HEADER.size + MAX_PAYLOAD))
            garbage.append(Garbage(at, nxt - at, _why_not(view, at)))
            skipped += nxt - at
            at = nxt
            break
        garbage.append(Garbage(at, nxt - at, _why_not(view, at)))
        skipped += nxt - at
        at = nxt
    return Parsed(out, at, skipped, garbage)


def _record_at(buf: bytes | memoryview, at: int) -> bytes | None:
    """The payload of a complete, valid record starting at `at`, else None."""
    if at + HEADER.size > len(buf):
        return None
    magic, length, crc = HEADER.unpack_from(buf, at)
    if magic != MAGIC or length > MAX_PAYLOAD:
        return None
    end = at + HEADER.size + length
    if end > len(buf):
        return None
    payload = bytes(buf[at + HEADER.size : end])
    return payload if zlib.crc32(payload) == crc else None


def _why_not(view: memoryview, at: int) -> GarbageKind:
    """Why no valid record starts at `at` (where _record_at said None)."""
    rest = len(view) - at
    if rest < HEADER.size:
        starts = bytes(view[at : at + min(rest, 2)]) == MAGIC[: min(rest, 2)]
        return "truncated" if starts else "no_record"
    magic, length, _ = HEADER.unpack_from(view, at)
    if magic != MAGIC:
        return "no_record"
    if length > MAX_PAYLOAD:
        return "bad_length"
    return "truncated" if at + HEADER.size + length > len(view) else "bad_crc"


def _may_be_incomplete(view: memoryview, at: int) -> bool:
    """True when the bytes at `at` start a record that runs past the end of `view`."""
    rest = len(view) - at
    if rest < HEADER.size:
        return bytes(view[at : at + min(rest, 2)]) == MAGIC[: min(rest, 2)]
    magic, length, _ = HEADER.unpack_from(view, at)
    return bool(magic == MAGIC and length <= MAX_PAYLOAD and at + HEADER.size + length > len(view))


def _resync(buf: bytes, view: memoryview, start: int) -> int | None:
    at = buf.find(MAGIC, start)
    while at != -1:
        if _record_at(view, at) is not None:
            return at
        at = buf.find(MAGIC, at + 1)
    return None


# -- record numbers ------------------------------------------------------------------


GAP_WHY = "a gap in the record numbers (a segment deleted, or records cut out)"
CUT_TAIL_WHY = "the spool ends before the last record appended (its tail was cut)"


@dataclass(frozen=True)
class Gap:
    """Records missing from a spool, found by their numbers.

    `segment` is where the gap was seen, None for a tail shorter than the highest
    number appended (cut at a record boundary, or its last segment deleted).
    """

    missing: int
    first_missing: int
    segment: int | None
    why: str


class Numbering:
    """Checks record numbers in file order while a spool is read at start.

    `expected` is the number the first record should carry (None: not known, after
    a checkpoint that does not fit or one from before numbering).
    """

    def __init__(self, expected: int | None) -> None:
        self.expected = expected
        self.found = 0 if expected is None else expected - 1  # highest number seen
        self.missing = 0

    def saw(self, seq: int | None, segment: int) -> Gap | None:
        """The next record's number (None: version 1, no number); a gap before it."""
        if seq is None:
            return None
        gap = None
        if self.expected is not None and seq > self.expected:
            gap = Gap(seq - self.expected, self.expected, segment, GAP_WHY)
            self.missing += gap.missing
        # A number going back (a write taken back after an error) is not a loss.
        self.expected = seq + 1
        self.found = max(self.found, seq)
        return gap

    def tail(self, appended: int | None) -> Gap | None:
        """After the last record: `appended`, the highest number ever appended."""
        if appended is None or appended <= self.found:
            return None
        gap = Gap(appended - self.found, self.found + 1, None, CUT_TAIL_WHY)
        self.missing += gap.missing
        return gap
