"""The local durable spool: clock events that could not reach the database yet.

An event is appended and fsync'd before the caller may answer the reader OK, and it
stays on disk until the database has committed it. This module is the async face
that gateway.recording uses (the Recorder appends, the Drainer reads, commits and
dead-letters); it owns the rules that need the event loop and nothing else: the
bound and its warning, group commit (appends that arrive while an fsync is running
are written together with the next one: one fsync for many readers), the numbering
of records in file order, and turning every disk failure into a SpoolError, never a
false success. The record format is gateway.durable.record (pure, no I/O); the files,
the checkpoint and the one thread that touches them are gateway.durable.segments.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from gateway.domain import DEFAULT_GATEWAY_ID, ClockEvent, StoreUnavailableError
from gateway.durable.record import (
    MAX_PAYLOAD,
    NUMBER_ROOM,
    Decoded,
    decode_payload,
    event_fields,
    frame,
    numbered,
    record_seq,
)
from gateway.durable.segments import (
    DEAD_LETTER,
    SEGMENT_BYTES,
    Position,
    SegmentFiles,
    SpoolGoneError,
    SpoolLockedError,
    SpoolThread,
    describe_os_error,
)
from gateway.logs import get_logger

# Names that callers import from here although they live in the layers below.
__all__ = [
    "DEAD_LETTER",
    "Position",
    "Spool",
    "SpoolBatch",
    "SpoolError",
    "SpoolFullError",
    "SpoolLockedError",
    "SpoolRecord",
]

# After a write found the disk full, appends resume only once this much is free.
RESUME_FREE_BYTES = 1 << 20

log = get_logger("spool")

T = TypeVar("T")


class SpoolError(StoreUnavailableError):
    """The spool cannot take the event; `reason` is a short machine word for logs."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, reason)


class SpoolFullError(SpoolError):
    pass


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
        self._files = SegmentFiles(directory, segment_bytes)
        self._thread = SpoolThread()
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
        self._full = False  # a write found the disk full: refuse until space is back
        self._warned = False
        self._dead_letters = 0
        # Called after each group commit: the owner's wake-up (the drainer's), so that
        # it hears of records that became readable even if their appender gave up.
        self._on_durable = on_durable

    # -- lifecycle
    async def open(self) -> None:
        self._thread.start()
        try:
            found = await self._run(self._files.recover)
        except SpoolLockedError:
            self._thread.stop(wait=False)
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
        self._cursor = self._read_pos = found.cursor
        self._replayed_seq = found.replayed_seq
        self._durable_end = found.end
        self._durable = found.count
        self._dead_letters = await self._run(self._files.dead_letter_count)
        if found.skipped:
            log.error("spool_garbage_skipped", bytes=found.skipped, directory=str(self.directory))
        log.info(
            "spool_opened", directory=str(self.directory), depth=found.count, max=self.max_events
        )
        self._check_warn()

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._thread.running:
            await self._run(self._files.close)
            self._thread.stop(wait=True)

    async def _disk(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a drainer-side file operation; a disk failure becomes a SpoolError."""
        try:
            return await self._run(fn, *args)
        except OSError as exc:
            reason, _ = describe_os_error(exc)
            raise SpoolError(f"spool: {exc.strerror or exc}", reason) from None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if not self._thread.running:
            raise SpoolError("spool is not open", "closed")
        return await self._thread.run(fn, *args)

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
        return self._thread.running and self._broken is None and not self._write_failed

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
        if not self._thread.running:
            raise SpoolError("spool is not open", "closed")
        if self._broken is not None:
            log.error("spool_write_failed", reason=self._broken.reason, error=str(self._broken))
            raise self._broken
        if self.depth >= self.max_events:
            log.error("spool_full", depth=self.depth, max=self.max_events)
            raise SpoolFullError(f"spool full ({self.max_events} events wait)", "spool_full")
        if self._full and not self._space_is_back():
            log.error("spool_write_failed", reason="disk_full", directory=str(self.directory))
            raise SpoolError("spool write failed: the disk is still full", "disk_full")
        try:
            record = event_fields(event)
            if len(record) + NUMBER_ROOM > MAX_PAYLOAD:
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
                    self._full = reason == "disk_full"
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
                self._write_failed = self._full = False
                self.fsyncs += 1
                _settle(batch, None)
                self._check_warn()
                if self._on_durable is not None:
                    self._on_durable()
        finally:
            self._flusher = None

    def _space_is_back(self) -> bool:
        """Whether a disk that was full has RESUME_FREE_BYTES free again.

        Without this a full disk flaps: a batch of two records fails, the next single
        one fits in the last few bytes, and a reader shows KO, OK, KO to the people
        queuing. One statvfs per refused swipe, only while the disk is full."""
        try:
            st = os.statvfs(self.directory)
        except OSError:
            return False
        if st.f_bavail * st.f_frsize < RESUME_FREE_BYTES:
            return False
        self._full = False
        return True

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
            decoded = decode_payload(raw, self.gateway_id)
            # An undecodable record is handed out too: the drainer dead-letters it.
            event = decoded.event if isinstance(decoded, Decoded) else None
            records.append(SpoolRecord(event, raw))
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
