"""The local durable spool: clock events that could not reach the database yet.

An event is appended and fsync'd before the caller may answer the reader OK, and it
stays on disk until the database has committed it. The layout is deliberately plain:

    <dir>/seg-000000000001.log   append-only segment files, one record after another
    <dir>/checkpoint             (segment, offset): everything before is replayed
    <dir>/dead-letter.jsonl      events the database refused for good (never deleted)

A record is `magic(2) | payload length(4) | crc32(payload)(4) | payload`, the payload a
compact JSON array: `[2, seq, event fields...]` (record version 2), where `seq` numbers
the records of the spool 1, 2, 3... without a gap, so that a deleted segment or a cut
tail is reported with the number of records missing. Version-1 records (`[1, event
fields...]`, no number) from an older release are still read and replayed.
`<dir>/appended` holds the highest number appended (rewritten in place after each
group commit, without an fsync of its own: it can only lag the data, never lead it),
which is how a tail cut at a record boundary is noticed.

A write torn by a power cut fails the length or checksum test and is skipped (and
logged), never mis-read; the reader then resynchronises on the next magic whose
record checks out. The checkpoint is two fixed slots overwritten in place,
alternately, each with a sequence number, the number of the last replayed record and
a CRC (see _Checkpoint), and a segment is deleted only once the checkpoint has moved
past it, so a crash at any instant either replays an event again (the database ignores a known
event key) or has not yet dropped it: unreplayed events are never deleted. A checkpoint
that does not fit the data (a segment that is not there, an offset past the end) is
reported and deletes nothing: everything is replayed. A segment written to that is no
longer the file at its path (deleted, replaced, its directory removed) makes the
append fail (KO, `spool_file_gone`), never a false OK.

All file I/O runs in one dedicated thread, so the event loop never blocks on a disk,
and appends that arrive while an fsync is running are written together with the next
one: one fsync for many readers (group commit).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import fcntl
import json
import os
import struct
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.domain import (
    DEFAULT_GATEWAY_ID,
    ClockEvent,
    Direction,
    Outcome,
    StoreUnavailableError,
)
from gateway.durable.atomic import fsync_dir, write_all
from gateway.errors import GatewayError
from gateway.logs import get_logger

MAGIC = b"\xc5\x70"  # 0xC5 0x70 never occurs in UTF-8 text, so never inside a payload
HEADER = struct.Struct(">2sII")  # magic, payload length, crc32 of the payload
MAX_PAYLOAD = 4096  # far above any real event; a larger length is corruption
SEGMENT_BYTES = 4 * 1024 * 1024  # roll to a new segment file beyond this size
READ_CHUNK = 256 * 1024
RECORD_VERSION = 2  # written; version 1 (no sequence number) is still read
CHECKPOINT = "checkpoint"
HIGH_WATER = "appended"
DEAD_LETTER = "dead-letter.jsonl"
LOCK = "lock"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


log = get_logger("spool")


class SpoolError(StoreUnavailableError):
    """The spool cannot take the event; `reason` is a short machine word for logs."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, reason)


class SpoolFullError(SpoolError):
    pass


class SpoolGoneError(Exception):
    """The file being appended to is no longer the one at its path (deleted, replaced)."""


class SpoolLockedError(GatewayError):
    """Another process holds the spool: the daemon must not start a second time."""


@dataclass(frozen=True, order=True)
class Position:
    """A place in the spool: segment number and byte offset inside it."""

    segment: int
    offset: int


@dataclass(frozen=True)
class SpoolRecord:
    """One record read back: the event, or the raw payload when it cannot be decoded."""

    event: ClockEvent | None
    raw: bytes


@dataclass(frozen=True)
class SpoolBatch:
    records: list[SpoolRecord]
    end: Position  # commit this once the records are in the database
    last_seq: int | None = None  # the number of the batch's last numbered record


# -- record codec (pure) ------------------------------------------------------------


def encode_event(event: ClockEvent, seq: int | None = None) -> bytes:
    """The record payload: version 2 with `seq`, else the version-1 layout (tests, tools)."""
    tail = event_fields(event)
    if seq is None:
        return b"[1," + tail[1:]
    return numbered(tail, seq)


def numbered(fields: bytes, seq: int) -> bytes:
    """A version-2 payload from event_fields() and the record's sequence number."""
    return b"[2,%d," % seq + fields[1:]


def event_fields(event: ClockEvent) -> bytes:
    """The event's fields as a JSON array (without version and number)."""
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


def decode_event(payload: bytes, gateway_id: str = DEFAULT_GATEWAY_ID) -> ClockEvent:
    """The event in a payload; ValueError when it is not a version-1 or -2 event."""
    return decode_record(payload, gateway_id)[1]


def record_seq(payload: bytes) -> int | None:
    """The sequence number of a version-2 payload without decoding the rest; else None."""
    if not payload.startswith(b"[2,"):
        return None
    end = payload.find(b",", 3)
    digits = payload[3:end]
    return int(digits) if end > 3 and digits.isdigit() else None


def decode_record(
    payload: bytes, gateway_id: str = DEFAULT_GATEWAY_ID
) -> tuple[int | None, ClockEvent]:
    """(sequence number or None for version 1, event); ValueError when undecodable.

    Records written before gateways had ids end after the outcome: this gateway made
    them, so they get `gateway_id`, this gateway's id, when they are replayed.
    """
    try:
        fields = json.loads(payload.decode("utf-8"))
        seq = None
        if isinstance(fields, list) and fields[:1] == [2]:
            seq = fields[1]
            if not isinstance(seq, int) or isinstance(seq, bool):
                raise ValueError("record number expected")
            fields = fields[2:]
        elif isinstance(fields, list) and fields[:1] == [1]:
            fields = fields[1:]
        else:
            raise ValueError(f"unsupported record {str(fields)[:20]!r}")
        if len(fields) == 9:
            *fields, gateway_id = fields
        key, person, card, direction, reader, hw_id, micros, outcome = fields
        if not isinstance(micros, int):
            raise ValueError("time field expected")
        for text in (key, person, card, reader, gateway_id):
            if not isinstance(text, str):
                raise ValueError("text field expected")
        if hw_id is not None and not isinstance(hw_id, str):
            raise ValueError("hardware id must be text")
        return seq, ClockEvent(
            event_key=uuid.UUID(hex=key),
            person_uid=person,
            card_key=card,
            direction=Direction(direction),
            reader=reader,
            reader_hw_id=hw_id,
            received_at=_EPOCH + timedelta(microseconds=micros),
            outcome=Outcome(outcome),
            gateway_id=gateway_id,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"undecodable record: {exc}") from None


def frame(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"record of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


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


@dataclass
class Parsed:
    records: list[tuple[int, bytes]]  # (end offset in buf, payload)
    consumed: int  # bytes of buf fully accounted for (records and skipped garbage)
    skipped: int  # garbage bytes skipped


def parse_records(buf: bytes, *, final: bool) -> Parsed:
    """Split `buf` into records, skipping anything that does not check out.

    `final` says nothing follows `buf`: a trailing incomplete or corrupt piece is then
    garbage (a torn write) and is consumed as skipped. Otherwise the parse stops before
    it, because the rest of the record may simply not have been read yet.
    """
    out: list[tuple[int, bytes]] = []
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
            if not final:
                # A valid record may straddle the end of this chunk: keep its possible start.
                keep = max(at + 1, len(buf) - (HEADER.size + MAX_PAYLOAD))
                skipped += keep - at
                at = keep
                break
            skipped += len(buf) - at
            at = len(buf)
            break
        skipped += nxt - at
        at = nxt
    return Parsed(out, at, skipped)


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


# -- file helpers (run in the spool thread) -----------------------------------------


def describe_os_error(exc: OSError) -> tuple[str, str]:
    """(reason word, one-line message) for an OSError on the spool."""
    reasons = {
        errno.ENOSPC: "disk_full",
        errno.EDQUOT: "disk_full",
        errno.EROFS: "read_only",
        errno.EACCES: "permission_denied",
        errno.EPERM: "permission_denied",
    }
    reason = reasons.get(exc.errno or 0, "io_error")
    return reason, f"spool write failed: {exc.strerror or exc}"


def _segment_name(number: int) -> str:
    return f"seg-{number:012d}.log"


def _segment_number(name: str) -> int | None:
    if name.startswith("seg-") and name.endswith(".log"):
        digits = name[4:-4]
        if digits.isdigit():
            return int(digits)
    return None


class _Checkpoint:
    """ "Replayed up to here", kept in two fixed slots overwritten in place, alternately.

    Overwriting allocates no disk space, so the drainer can still move on (and free
    whole segments) when the disk is full. Each slot has a sequence number and a
    checksum: a write torn by a power cut spoils only one slot, and the other one, one
    step older, is used; replaying that step again is harmless.
    """

    # magic, slot sequence, segment, offset, number of the last replayed record
    # (0: unknown), crc32. Version 1 slots (no record number, 32 bytes) are still read.
    SLOT = struct.Struct(">4sQQQQI")
    MAGIC = b"CKP2"
    SLOT_V1 = struct.Struct(">4sQQQI")
    MAGIC_V1 = b"CKP1"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.seq = 0
        self.record_seq: int | None = None  # of the last replayed record, when known

    def load(self) -> Position | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not data.strip(b"\0"):
            return None  # created but never written: nothing was replayed yet
        best: tuple[int, Position, int] | None = None
        for slot, magic_wanted in ((self.SLOT, self.MAGIC), (self.SLOT_V1, self.MAGIC_V1)):
            for at in (0, slot.size):
                chunk = data[at : at + slot.size]
                if len(chunk) < slot.size:
                    continue
                magic, seq, segment, offset, *rest = slot.unpack(chunk)
                if magic != magic_wanted or zlib.crc32(chunk[:-4]) != rest[-1]:
                    continue
                record = rest[0] if len(rest) == 2 else 0
                if best is None or seq > best[0]:
                    best = (seq, Position(segment, offset), record)
            if best is not None:
                break  # a valid version-2 slot wins over what is left of version 1
        if best is None:
            log.error("spool_checkpoint_unreadable", path=str(self.path), action="replay_all")
            return None
        self.seq = best[0]
        self.record_seq = best[2] or None
        return best[1]

    def prepare(self) -> int:
        """Create the file now, while there is room: later writes allocate nothing."""
        if self.fd is None:
            size = self.path.stat().st_size if self.path.exists() else 0
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if size < 2 * self.SLOT.size:
                try:
                    # Extend only: a version-1 file's slots stay readable until replaced.
                    os.pwrite(fd, bytes(2 * self.SLOT.size - size), size)
                    os.fsync(fd)
                    fsync_dir(self.path.parent)
                except OSError:
                    os.close(fd)
                    raise
            self.fd = fd
        return self.fd

    def store(self, pos: Position, record_seq: int | None = None) -> None:
        fd = self.prepare()
        self.seq += 1
        if record_seq is not None:
            self.record_seq = record_seq
        body = self.SLOT.pack(
            self.MAGIC, self.seq, pos.segment, pos.offset, self.record_seq or 0, 0
        )[:-4]
        os.pwrite(fd, body + struct.pack(">I", zlib.crc32(body)), (self.seq % 2) * self.SLOT.size)
        os.fdatasync(fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _HighWater:
    """The highest record number appended, rewritten in place after each group commit.

    No fsync of its own: it is written after the records' fdatasync, so it may lag
    them after a power cut (a cut tail then goes unnoticed) but never leads them (no
    false alarm). It survives a process crash in the page cache.
    """

    LAYOUT = struct.Struct(">4sQI")
    MAGIC = b"HWM1"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def load(self) -> int | None:
        try:
            data = self.path.read_bytes()[: self.LAYOUT.size]
        except FileNotFoundError:
            return None
        if len(data) < self.LAYOUT.size:
            return None
        magic, seq, crc = self.LAYOUT.unpack(data)
        if magic != self.MAGIC or zlib.crc32(data[:-4]) != crc:
            return None
        return int(seq)

    def store(self, seq: int) -> None:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        body = self.LAYOUT.pack(self.MAGIC, seq, 0)[:-4]
        os.pwrite(self.fd, body + struct.pack(">I", zlib.crc32(body)), 0)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Files:
    """The spool's files. Only ever used from the spool's single thread."""

    def __init__(self, directory: Path, segment_bytes: int) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.segments: list[int] = []
        self.fd: int | None = None  # the segment being appended to
        self.ckpt = _Checkpoint(directory / CHECKPOINT)
        self.high_water = _HighWater(directory / HIGH_WATER)
        self.lock_fd: int | None = None
        self.active = 0
        self.size = 0
        self.next_seq = 1  # the number the next appended record gets

    # recovery
    def recover(self) -> tuple[Position, Position, int, int, int | None]:
        """(checkpoint, durable end, unreplayed records, skipped garbage bytes, number of
        the last replayed record)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        self.segments = sorted(
            n for p in self.dir.iterdir() if (n := _segment_number(p.name)) is not None
        )
        # A checkpoint file with anything in it: replay may not start at record 1.
        try:
            had_checkpoint = bool(self.ckpt.path.read_bytes().strip(b"\0"))
        except FileNotFoundError:
            had_checkpoint = False
        cursor, fits = self._read_checkpoint()
        replayed_seq = self.ckpt.record_seq if fits else None
        try:
            self.ckpt.prepare()
        except OSError as exc:  # the drainer retries: events wait, none is lost
            log.error("spool_checkpoint_unwritable", path=str(self.ckpt.path), error=str(exc))
        # Segments before a checkpoint that fits the data were replayed before a crash
        # that came before their deletion. A checkpoint that does not fit deletes nothing.
        for old in [n for n in self.segments if fits and n < cursor.segment]:
            try:
                self._delete(old)
            except OSError as exc:  # a read-only disk: harmless, reading skips it
                log.warning("spool_segment_not_deleted", segment=old, error=str(exc))
                self.segments.remove(old)
        count = skipped = 0
        # Numbering starts at 1 in a new spool; after a checkpoint that does not fit,
        # or one from before numbering, where it stands is not known.
        first_expected = (
            replayed_seq + 1 if replayed_seq is not None else (None if had_checkpoint else 1)
        )
        numbers = _Numbering(first_expected)
        for number in self.segments:
            start = cursor.offset if number == cursor.segment else 0
            data = (self.dir / _segment_name(number)).read_bytes()[start:]
            parsed = parse_records(data, final=True)
            count += len(parsed.records)
            skipped += parsed.skipped
            for _end, payload in parsed.records:
                numbers.saw(record_seq(payload), number)
        numbers.tail(self.high_water.load())
        # After a reported loss at the tail, numbering goes on from what is on disk,
        # so the same loss is not reported again once new records follow.
        self.next_seq = numbers.found + 1
        last = self.segments[-1] if self.segments else cursor.segment
        end_offset = self._size(last) if self.segments else cursor.offset
        self.active = last
        return cursor, Position(last, end_offset), count, skipped, replayed_seq

    def _read_checkpoint(self) -> tuple[Position, bool]:
        """Where replay starts, and whether the checkpoint fits the data on disk."""
        first = self.segments[0] if self.segments else 0
        pos = self.ckpt.load()
        if pos is None:
            # Replaying from the start is safe: the database ignores known event keys.
            return Position(first, 0), True
        if not self.segments:
            return pos, True  # nothing on disk to lose (a cut is reported by numbers)
        if pos.segment in self.segments and pos.offset <= self._size(pos.segment):
            return pos, True
        # A checkpoint naming a segment that is not there, or an offset past its end,
        # does not describe this data: keep every segment and replay them all (events
        # are idempotent); never delete what may not have been replayed.
        log.error(
            "spool_checkpoint_mismatch",
            checkpoint_segment=pos.segment,
            checkpoint_offset=pos.offset,
            segments=f"{self.segments[0]}..{self.segments[-1]} ({len(self.segments)})",
            action="keep_and_replay_all",
        )
        return Position(first, 0), False

    def _size(self, number: int) -> int:
        return (self.dir / _segment_name(number)).stat().st_size

    def _delete(self, number: int) -> None:
        (self.dir / _segment_name(number)).unlink(missing_ok=True)
        self.segments.remove(number)

    # appending
    def _roll(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        number = (self.segments[-1] if self.segments else self.active) + 1
        path = self.dir / _segment_name(number)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fsync_dir(self.dir)  # the new file's name must survive a power cut too
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self.segments.append(number)
        self.fd, self.active, self.size = fd, number, 0

    def append(self, data: bytes, last_seq: int) -> Position:
        """Write and fsync `data` (records numbered up to `last_seq`); raise OSError, or
        SpoolGoneError when the file written is no longer the one at its path."""
        # Each start of the daemon writes a new segment: fsync'd data is never rewritten.
        if self.fd is None or self.size >= self.segment_bytes:
            self._roll()
        assert self.fd is not None
        start = self.size
        try:
            write_all(self.fd, data)
            os.fdatasync(self.fd)
            self._check_same_file()
        except OSError:
            # The caller answers KO: take back what may have reached the file so that
            # it is not replayed later. If even that fails, the next append starts a
            # new segment and the reader skips whatever is left.
            try:
                os.ftruncate(self.fd, start)
                os.fdatasync(self.fd)
            except OSError:
                os.close(self.fd)
                self.fd = None
            raise
        self.size = start + len(data)
        self.next_seq = last_seq + 1
        with contextlib.suppress(OSError):  # only a help for spotting a cut tail later
            self.high_water.store(last_seq)
        return Position(self.active, self.size)

    def _check_same_file(self) -> None:
        """The data just fsync'd must be in the file at our path: a segment deleted or
        replaced, or a whole state directory removed (and recreated by someone else),
        leaves us writing to a file nobody will ever read."""
        assert self.fd is not None
        mine = os.fstat(self.fd)
        path = self.dir / _segment_name(self.active)
        try:
            there = os.stat(path)
        except FileNotFoundError:
            there = None
        if there is None or (there.st_ino, there.st_dev) != (mine.st_ino, mine.st_dev):
            os.close(self.fd)
            self.fd = None
            raise SpoolGoneError(f"{path} was deleted or replaced while in use")

    # reading
    def read(self, pos: Position, end: Position, limit: int) -> tuple[list[bytes], Position, int]:
        """Up to `limit` payloads from `pos`, not past `end`; (payloads, next pos, skipped)."""
        out: list[bytes] = []
        skipped = 0
        while len(out) < limit and pos < end:
            if pos.segment not in self.segments:
                later = [n for n in self.segments if n > pos.segment]
                if not later:
                    break
                pos = Position(later[0], 0)
                continue
            closed = pos.segment != end.segment
            stop = self._size(pos.segment) if closed else end.offset
            if pos.offset >= stop:
                later = [n for n in self.segments if n > pos.segment]
                if not closed or not later:
                    break
                pos = Position(later[0], 0)
                continue
            with open(self.dir / _segment_name(pos.segment), "rb") as f:
                f.seek(pos.offset)
                chunk = f.read(min(stop - pos.offset, READ_CHUNK))
            final = pos.offset + len(chunk) >= stop
            parsed = parse_records(chunk, final=final)
            if not parsed.records and parsed.consumed == 0:
                break  # cannot happen: a chunk always holds at least one whole record
            room = limit - len(out)
            if len(parsed.records) > room:
                taken = parsed.records[:room]
                last_end = taken[-1][0]
                out.extend(payload for _, payload in taken)
                skipped += _skipped_before(parsed, last_end)
                pos = Position(pos.segment, pos.offset + last_end)
                break
            out.extend(payload for _, payload in parsed.records)
            skipped += parsed.skipped
            pos = Position(pos.segment, pos.offset + parsed.consumed)
        return out, pos, skipped

    def checkpoint(self, pos: Position, record_seq: int | None = None) -> None:
        self.ckpt.store(pos, record_seq)
        done = [n for n in self.segments if n < pos.segment and n != self.active]
        for number in done:
            self._delete(number)
        if done:
            fsync_dir(self.dir)

    def dead_letter(self, entries: list[dict[str, Any]]) -> None:
        lines = b"".join(
            json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            for e in entries
        )
        fd = os.open(self.dir / DEAD_LETTER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            write_all(fd, lines)
            os.fsync(fd)
        finally:
            os.close(fd)

    def dead_letter_count(self) -> int:
        try:
            with open(self.dir / DEAD_LETTER, "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def _lock(self) -> None:
        """One process per spool: two drainers would delete each other's segments.

        The kernel drops the lock when the process dies, even by SIGKILL, so a crash
        never leaves a stale lock behind.
        """
        path = self.dir / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno != errno.EROFS or not path.exists():
                raise
            fd = os.open(path, os.O_RDONLY)  # read-only disk: nobody writes anyway
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise SpoolLockedError(
                f"another clock-gateway (pid {holder}) is using the spool in {self.dir}"
            ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.lock_fd = fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.ckpt.close()
        self.high_water.close()
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # releases the lock
            self.lock_fd = None


class _Numbering:
    """Checks record numbers while the spool is read at start: a gap (a deleted
    segment, records cut out) or a tail shorter than the highest number appended (a
    cut at a record boundary) is logged with the number of records missing."""

    def __init__(self, expected: int | None) -> None:
        self.expected = expected
        self.found = 0 if expected is None else expected - 1  # highest number seen
        self.missing = 0

    def saw(self, seq: int | None, segment: int) -> None:
        if seq is None:
            return  # a version-1 record: no number
        if self.expected is not None and seq > self.expected:
            gap = seq - self.expected
            self.missing += gap
            log.error(
                "spool_records_missing",
                missing=gap,
                first_missing=self.expected,
                segment=segment,
                why="a gap in the record numbers (a segment deleted, or records cut out)",
            )
        # A number going back (a write taken back after an error) is not a loss.
        self.expected = seq + 1
        self.found = max(self.found, seq)

    def tail(self, appended: int | None) -> None:
        if appended is not None and appended > self.found:
            gap = appended - self.found
            self.missing += gap
            log.error(
                "spool_records_missing",
                missing=gap,
                first_missing=self.found + 1,
                why="the spool ends before the last record appended (its tail was cut)",
            )


def _skipped_before(parsed: Parsed, end: int) -> int:
    """Garbage bytes skipped before offset `end` of a parsed chunk."""
    covered = 0
    prev = 0
    for rec_end, payload in parsed.records:
        if rec_end > end:
            break
        covered += HEADER.size + len(payload)
        prev = rec_end
    return prev - covered


# -- the spool ------------------------------------------------------------------------


class Spool:
    """Durable FIFO of clock events, shared by the live path (append) and the drainer.

    Use from one event loop: `await open()`, then `append()` from any number of tasks,
    `read_batch()` / `commit()` from one drainer, `await close()` at the end.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_events: int = 1_000_000,
        warn_ratio: float = 0.9,
        segment_bytes: int = SEGMENT_BYTES,
        on_durable: Callable[[], None] | None = None,
        gateway_id: str = DEFAULT_GATEWAY_ID,
    ) -> None:
        self.directory = directory
        self.gateway_id = gateway_id  # given to records that were written without one
        self.max_events = max_events
        self.warn_at = max(1, int(max_events * warn_ratio))
        self._files = _Files(directory, segment_bytes)
        self._executor: ThreadPoolExecutor | None = None
        self._cursor = Position(0, 0)  # committed: everything before is in the database
        self._read_pos = Position(0, 0)  # handed to the drainer, maybe not committed yet
        self._durable_end = Position(0, 0)
        self._durable = 0  # records on disk after the checkpoint
        # Event fields waiting for the next group commit, which numbers and frames them.
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._replayed_seq: int | None = None  # number of the last committed record
        self._flusher: asyncio.Task[None] | None = None
        self._in_flight = 0  # records in the write being fsync'd right now
        self.fsyncs = 0  # successful group commits, for stats and tests
        self._broken: SpoolError | None = None  # set when the directory cannot be used
        self._write_failed = False  # the last group write failed (disk full, read-only)
        self._warned = False
        self._dead_letters = 0
        # Called after each group commit: the owner's wake-up (the drainer's), so that
        # it hears of records that became readable even if their appender gave up.
        self._on_durable = on_durable

    # -- lifecycle
    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        try:
            cursor, end, count, skipped, replayed = await self._run(self._files.recover)
        except SpoolLockedError:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        except OSError as exc:
            # Start anyway: swipes can still go to the database, and every one that
            # cannot is refused honestly with this error.
            reason, _ = describe_os_error(exc)
            self._broken = SpoolError(f"spool unusable: {exc.strerror or exc}", reason)
            log.error(
                "spool_unavailable", directory=str(self.directory), reason=reason, error=str(exc)
            )
            return
        self._cursor = self._read_pos = cursor
        self._replayed_seq = replayed
        self._durable_end = end
        self._durable = count
        self._dead_letters = await self._run(self._files.dead_letter_count)
        if skipped:
            log.error("spool_garbage_skipped", bytes=skipped, directory=str(self.directory))
        log.info("spool_opened", directory=str(self.directory), depth=count, max=self.max_events)
        self._check_warn()

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._executor is not None:
            await self._run(self._files.close)
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _disk(self, fn: Any, *args: Any) -> Any:
        """Run a drainer-side file operation; a disk failure becomes a SpoolError."""
        try:
            return await self._run(fn, *args)
        except OSError as exc:
            reason, _ = describe_os_error(exc)
            raise SpoolError(f"spool: {exc.strerror or exc}", reason) from None

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            raise SpoolError("spool is not open", "closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- state
    @property
    def depth(self) -> int:
        """Events not yet committed to the database, including appends in flight."""
        return self._durable + len(self._pending) + self._in_flight

    @property
    def committed(self) -> Position:
        """Everything before this position is in the database."""
        return self._cursor

    @property
    def dead_letters(self) -> int:
        return self._dead_letters

    @property
    def writable(self) -> bool:
        """Open, usable, and its last write did not fail (for /healthz; full is apart)."""
        return self._executor is not None and self._broken is None and not self._write_failed

    @property
    def error(self) -> str | None:
        """Why the spool cannot take appends (e.g. 'spool_gone'), or None if it can."""
        return None if self._broken is None else self._broken.reason

    def _check_warn(self) -> None:
        depth = self.depth
        if depth >= self.warn_at and not self._warned:
            self._warned = True
            log.warning("spool_near_full", depth=depth, max=self.max_events)
        elif depth < self.warn_at * 0.9:
            self._warned = False

    # -- appending (group commit)
    async def append(self, event: ClockEvent) -> None:
        """Return once the event is fsync'd; raise SpoolError (never a false success)."""
        if self._executor is None:
            raise SpoolError("spool is not open", "closed")
        if self._broken is not None:
            log.error("spool_write_failed", reason=self._broken.reason, error=str(self._broken))
            raise self._broken
        if self.depth >= self.max_events:
            log.error("spool_full", depth=self.depth, max=self.max_events)
            raise SpoolFullError(f"spool full ({self.max_events} events wait)", "spool_full")
        try:
            record = event_fields(event)
            if len(record) + 24 > MAX_PAYLOAD:  # 24: version and number, at most
                raise ValueError(f"record of {len(record)} bytes exceeds {MAX_PAYLOAD}")
        except ValueError as exc:  # far larger than any real event, or no person (a bug)
            reason = "too_large" if event.person_uid is not None else "internal"
            log.error("spool_write_failed", reason=reason, error=str(exc))
            raise SpoolError(f"spool write failed: {exc}", reason) from None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop())
        await future

    async def _flush_loop(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                self._in_flight = len(batch)
                # Numbered here, in file order; a failed write uses no number.
                first = self._files.next_seq
                data = b"".join(
                    frame(numbered(fields, first + i)) for i, (fields, _) in enumerate(batch)
                )
                last = first + len(batch) - 1
                try:
                    end = await self._run(self._files.append, data, last)
                except SpoolGoneError as exc:
                    # Never a false OK: the swipes are in a file nobody will read.
                    self._broken = SpoolError(f"spool files gone: {exc}", "spool_gone")
                    log.error(
                        "spool_file_gone",
                        error=str(exc),
                        events=len(batch),
                        directory=str(self.directory),
                        action="every swipe the database cannot take is answered KO "
                        "until the gateway is restarted",
                    )
                    _settle(batch, self._broken)
                    continue
                except OSError as exc:
                    reason, message = describe_os_error(exc)
                    log.error(
                        "spool_write_failed",
                        reason=reason,
                        error=str(exc),
                        events=len(batch),
                        directory=str(self.directory),
                    )
                    self._write_failed = True
                    _settle(batch, SpoolError(message, reason))
                    continue
                except Exception as exc:  # a bug or a closed spool: still never a false OK
                    log.error("spool_write_failed", reason="internal", error=repr(exc))
                    _settle(batch, SpoolError(f"spool write failed: {exc}", "internal"))
                    continue
                finally:
                    self._in_flight = 0
                self._durable_end = end
                self._durable += len(batch)
                self._write_failed = False
                self.fsyncs += 1
                _settle(batch, None)
                self._check_warn()
                if self._on_durable is not None:
                    self._on_durable()
        finally:
            self._flusher = None

    # -- draining
    async def read_batch(self, limit: int = 500) -> SpoolBatch:
        """The next records after those already handed out (in append order)."""
        if self._broken is not None:
            return SpoolBatch([], self._read_pos)
        payloads, pos, skipped = await self._disk(
            self._files.read, self._read_pos, self._durable_end, limit
        )
        if skipped:
            log.error("spool_garbage_skipped", bytes=skipped, directory=str(self.directory))
        records = []
        last_seq = None
        for raw in payloads:
            last_seq = record_seq(raw) or last_seq
            try:
                records.append(SpoolRecord(decode_event(raw, self.gateway_id), raw))
            except ValueError:
                records.append(SpoolRecord(None, raw))
        self._read_pos = pos
        return SpoolBatch(records, pos, last_seq)

    async def commit(self, batch: SpoolBatch) -> None:
        """Mark a batch replayed (only after the database committed it)."""
        await self._disk(self._files.checkpoint, batch.end, batch.last_seq)
        self._cursor = batch.end
        self._durable -= len(batch.records)
        self._check_warn()

    def rewind(self) -> None:
        """Hand out again everything not committed (after a failed replay)."""
        self._read_pos = self._cursor

    async def dead_letter(self, record: SpoolRecord, reason: str) -> None:
        """Keep a record the database refuses for good; it is never deleted."""
        entry: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(),
            "reason": reason,
            "record": base64.b64encode(record.raw).decode("ascii"),
        }
        if record.event is not None:
            entry["event_key"] = str(record.event.event_key)
            entry["reader"] = record.event.reader
        await self._disk(self._files.dead_letter, [entry])
        self._dead_letters += 1
        log.error("spool_dead_letter", reason=reason, **{k: entry.get(k) for k in ("event_key",)})


def _settle(batch: list[tuple[bytes, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, future in batch:
        if future.done():  # the caller gave up waiting; the outcome no longer matters
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
