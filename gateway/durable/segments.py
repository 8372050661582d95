"""The spool's files and the one thread that touches them.

Everything the spool does to a disk happens here, so that the fault cases (a power
cut, a full disk, a file deleted under us) are handled in one place, and the async
spool above (gateway.durable.spool) only awaits results. The layout is deliberately
plain:

    <dir>/seg-000000000001.log   append-only segment files, one record after another
    <dir>/checkpoint             (segment, offset): everything before is replayed
    <dir>/appended               the highest record number appended
    <dir>/dead-letter.jsonl      events the database refused for good (never deleted)
    <dir>/lock                   the running gateway's flock

The records themselves are gateway.durable.record's business. `appended` is
rewritten in place after each group commit, without an fsync of its own: it can only
lag the data, never lead it, which is how a tail cut at a record boundary is noticed.

The checkpoint is two fixed slots overwritten in place, alternately, each with a
sequence number, the number of the last replayed record and a CRC (see Checkpoint),
and a segment is deleted only once the checkpoint has moved past it, so a crash at any
instant either replays an event again (the database ignores a known event key) or
has not yet dropped it: unreplayed events are never deleted. A checkpoint that does
not fit the data (a segment that is not there, an offset past the end) is reported
and deletes nothing: everything is replayed. A segment written to that is no longer
the file at its path (deleted, replaced, its directory removed) makes the append fail
(SpoolGoneError), never a false OK.

SegmentFiles is used only from the single SpoolThread, so the event loop never
blocks on a disk and the files need no lock of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gateway.durable.atomic import fsync_dir, write_all
from gateway.durable.record import Gap, Numbering, parse_records, record_seq
from gateway.errors import GatewayError
from gateway.logs import get_logger

SEGMENT_BYTES = 4 * 1024 * 1024  # roll to a new segment file beyond this size
READ_CHUNK = 256 * 1024
CHECKPOINT = "checkpoint"
HIGH_WATER = "appended"
DEAD_LETTER = "dead-letter.jsonl"
LOCK = "lock"

log = get_logger("spool")  # one logger for the whole spool: operators filter on it

T = TypeVar("T")


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
class Recovered:
    """What SegmentFiles.recover() found on disk at start."""

    cursor: Position  # the checkpoint: replay starts here
    end: Position  # the end of the durable data
    count: int  # records after the checkpoint
    skipped: int  # garbage bytes skipped after the checkpoint
    replayed_seq: int | None  # number of the last replayed record, when known


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


def segment_name(number: int) -> str:
    return f"seg-{number:012d}.log"


def segment_number(name: str) -> int | None:
    if name.startswith("seg-") and name.endswith(".log"):
        digits = name[4:-4]
        if digits.isdigit():
            return int(digits)
    return None


class SpoolThread:
    """The one thread that runs every file operation of a spool, in call order.

    One worker, not a pool: the files are never touched by two threads, and appends
    that arrive while an fsync runs queue up behind it (the spool's group commit).
    """

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._executor is not None

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise RuntimeError("the spool thread is not running")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def stop(self, *, wait: bool) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait)
            self._executor = None


class Checkpoint:
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


class HighWater:
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


def _report_gap(gap: Gap) -> None:
    where = {} if gap.segment is None else {"segment": gap.segment}
    log.error(
        "spool_records_missing",
        missing=gap.missing,
        first_missing=gap.first_missing,
        **where,
        why=gap.why,
    )


class SegmentFiles:
    """The spool's files. Only ever used from the spool's single thread."""

    def __init__(self, directory: Path, segment_bytes: int) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.segments: list[int] = []
        self.fd: int | None = None  # the segment being appended to
        self.ckpt = Checkpoint(directory / CHECKPOINT)
        self.high_water = HighWater(directory / HIGH_WATER)
        self.lock_fd: int | None = None
        self.active = 0
        self.size = 0
        self.next_seq = 1  # the number the next appended record gets

    # recovery
    def recover(self) -> Recovered:
        """Lock the spool, check the checkpoint against the data, delete the segments
        it has passed, and count (and number-check) what is left to replay."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        self.segments = sorted(
            n for p in self.dir.iterdir() if (n := segment_number(p.name)) is not None
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
        numbers = Numbering(first_expected)
        for number in self.segments:
            start = cursor.offset if number == cursor.segment else 0
            data = (self.dir / segment_name(number)).read_bytes()[start:]
            parsed = parse_records(data, final=True)
            count += len(parsed.records)
            skipped += parsed.skipped
            for _end, payload in parsed.records:
                if (gap := numbers.saw(record_seq(payload), number)) is not None:
                    _report_gap(gap)
        if (gap := numbers.tail(self.high_water.load())) is not None:
            _report_gap(gap)
        # After a reported loss at the tail, numbering goes on from what is on disk,
        # so the same loss is not reported again once new records follow.
        self.next_seq = numbers.found + 1
        last = self.segments[-1] if self.segments else cursor.segment
        end_offset = self._size(last) if self.segments else cursor.offset
        self.active = last
        return Recovered(cursor, Position(last, end_offset), count, skipped, replayed_seq)

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
        return (self.dir / segment_name(number)).stat().st_size

    def _delete(self, number: int) -> None:
        (self.dir / segment_name(number)).unlink(missing_ok=True)
        self.segments.remove(number)

    # appending
    def _roll(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        number = (self.segments[-1] if self.segments else self.active) + 1
        path = self.dir / segment_name(number)
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
        path = self.dir / segment_name(self.active)
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
            with open(self.dir / segment_name(pos.segment), "rb") as f:
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
                skipped += parsed.skipped_before(last_end)
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
