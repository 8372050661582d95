"""Noticing another connection's commit to a SQLite file, without a fixed poll.

SQLite has no notifications. Two pieces make one here:

- `DataVersion`: `PRAGMA data_version` changes when another connection commits, and
  reading it costs a look at shared memory, not a query. It says *whether* something
  was committed, but someone has to ask.
- `WriteWatch`: Linux inotify on the file's directory wakes us when the database, its
  `-wal` or its `-journal` is written. Every writer (the daemon, the CLI, another web,
  an import) writes there before its commit counts, so this hears them all, with no
  change to the swipe path and nothing shared between the processes but the file.

Why not a message from the daemon (a datagram after each commit): it would hear only
the daemon, need a socket path both processes agree on, and put a system call on the
swipe path; the file is already the one thing every writer shares.

A commit writes its WAL frames first, then (synchronous=FULL) waits for fsync, and
only then publishes the frames in the shared-memory index, where data_version and
readers see them. inotify speaks at the write, so the first look may come early:
the caller looks again a few times over a quarter of a second (`RECHECK_S`), starting
at a millisecond, and stops at the first change. That is a bounded wait after a
write seen, not a poll: an idle database costs nothing but the slow safety poll.

The inotify binding is three libc calls through ctypes, like gateway/link/watch.py
(the storage layers do not import each other, hence its own few lines here).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import sqlite3
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from gateway.logs import get_logger

log = get_logger("store")

# After a write is seen: look again after these waits (s) until data_version moves.
RECHECK_S = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
_IN_MODIFY = 0x00000002
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_Q_OVERFLOW = 0x00004000
_IN_ONLYDIR = 0x01000000
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


# What the board and the unknown-card list are computed from, read after data_version
# moved, so that a commit of something else (the register's sealer every few seconds,
# a gateway's heartbeat or status) wakes nobody. First the taps: the highest clock
# event id (rows commit in id order on SQLite, so any new event raises it) and the
# unknown cards (an upsert per card that adds one to its count: their number and the
# sum of their counts). Then the same counts and highest ids as gateway/store/live_feed.py's
# signature (people, timetable, corrections, clock steps, the audit log): a change
# there needs the day read again. Each part costs an index end or a small table.
_INPUTS = (
    "SELECT (SELECT max(id) FROM clock_events),"
    " (SELECT count(*) FROM unknown_swipes), (SELECT sum(count) FROM unknown_swipes),"
    " (SELECT count(*) FROM people),"
    " (SELECT count(*) FROM timetable), (SELECT max(id) FROM timetable),"
    " (SELECT count(*) FROM corrections), (SELECT max(id) FROM corrections),"
    " (SELECT count(*) FROM clock_steps), (SELECT max(id) FROM clock_steps),"
    " (SELECT max(id) FROM audit_log)"
)


@dataclass(frozen=True)
class Inputs:
    """`taps`: the events and unknown cards; `others`: what makes the day read again."""

    taps: tuple[int, ...]
    others: tuple[int, ...]


class DataVersion:
    """The file's data_version, read on a read-only connection of our own."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def read(self) -> int | None:
        """The current value; None when the file cannot be read now (retried next time)."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, timeout=0.1)
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            log.debug("sqlite_watch_failed", error=str(exc))
            self.close()
            return None

    def inputs(self) -> Inputs | None:
        """What the live pages read, in one cheap statement on the same connection;
        None when the file cannot be read now."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, timeout=0.1)
            # fetchall: the statement is finished, no read snapshot stays open.
            row = self._conn.execute(_INPUTS).fetchall()[0]
        except sqlite3.Error as exc:
            log.debug("sqlite_inputs_failed", error=str(exc))
            self.close()
            return None
        values = tuple(int(v or 0) for v in row)
        return Inputs(values[:3], values[3:])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class WriteWatch:
    """Wakes `wait()` when the database file, its -wal or its -journal is written."""

    def __init__(self, path: Path) -> None:
        self._path = Path(os.path.abspath(path))
        self._names = {os.fsencode(self._path.name + tail) for tail in ("", "-wal", "-journal")}
        self._fd: int | None = None
        self._written = asyncio.Event()
        self.wakeups = 0  # writes heard: for tests

    def start(self) -> bool:
        """Start watching (from the event loop); False when inotify cannot be had."""
        try:
            if not sys.platform.startswith("linux"):
                raise OSError("inotify is Linux only")
            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_init1.argtypes = [ctypes.c_int]
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            mask = _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO | _IN_ONLYDIR
            if libc.inotify_add_watch(fd, os.fsencode(self._path.parent), mask) < 0:
                errno = ctypes.get_errno()
                os.close(fd)
                raise OSError(errno, os.strerror(errno))
        except (OSError, AttributeError) as exc:  # AttributeError: a libc without inotify
            log.warning("sqlite_write_watch_unavailable", error=str(exc), fallback="poll")
            return False
        self._fd = fd
        asyncio.get_running_loop().add_reader(fd, self._on_events)
        return True

    async def wait(self, timeout: float) -> bool:
        """Up to `timeout` s for a write; True if one came (since the last wait)."""
        if not self._written.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._written.wait()
        woke = self._written.is_set()
        self._written.clear()
        return woke

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)

    def _on_events(self) -> None:
        if self._fd is None:
            return
        heard = False
        while True:
            try:
                data = os.read(self._fd, 64 * 1024)
            except (BlockingIOError, InterruptedError):
                break
            offset = 0
            while offset + _HEADER.size <= len(data):
                _wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                name = data[start : start + length].rstrip(b"\0")
                offset = start + length
                if mask & _IN_Q_OVERFLOW or name in self._names:
                    heard = True
        if heard:
            self.wakeups += 1
            self._written.set()
