"""Noticing at once that a reader's port is back, with Linux inotify.

A link whose port is gone retries with a backoff capped at 1 s, so a replugged reader
waited up to a second for nothing. Instead, while a link is down, its port's nearest
existing directory is watched (`/dev/serial/by-id`, or `/dev/serial` and then `/dev`
when udev has removed the empty directories), and the link is woken when its path, or
a directory on the way to it, is created, moved in or changes permissions, and the
path then exists. The backoff stays as the fallback: when inotify is not there (not Linux, out of
instances), the waits simply run to their end.

inotify is three libc calls and a fixed event header, bound here with ctypes rather
than through a dependency: nothing else in the gateway needs file watching, and the
packaged libraries either pull in a compiled extension or wrap far more than this.
One inotify descriptor serves every link of the daemon (the per-user limit on
instances is 128 by default; on watches it is thousands).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import struct
import sys

from gateway.logs import get_logger

log = get_logger("link")

_IN_ATTRIB = 0x00000004
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_DELETE_SELF = 0x00000400
_IN_MOVE_SELF = 0x00000800
_IN_Q_OVERFLOW = 0x00004000
_IN_IGNORED = 0x00008000
_IN_ONLYDIR = 0x01000000
_MASK = _IN_CREATE | _IN_MOVED_TO | _IN_ATTRIB | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
_READ_SIZE = 64 * 1024


class _Inotify:
    """The raw calls; raises OSError when inotify is not available."""

    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            raise OSError("inotify is Linux only")
        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = [ctypes.c_int, ctypes.c_int]
        init = libc.inotify_init1
        init.argtypes = [ctypes.c_int]
        self.fd = self._check(init(os.O_NONBLOCK | os.O_CLOEXEC))

    @staticmethod
    def _check(result: int) -> int:
        if result < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        return result

    def add_watch(self, directory: str) -> int:
        return self._check(self._add(self.fd, os.fsencode(directory), _MASK))

    def rm_watch(self, wd: int) -> None:
        self._rm(self.fd, wd)  # fails only for a watch the kernel already dropped

    def read_events(self) -> list[tuple[int, int, str]]:
        """(wd, mask, name) of the events queued now."""
        events: list[tuple[int, int, str]] = []
        while True:
            try:
                data = os.read(self.fd, _READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return events
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                name = os.fsdecode(data[start : start + length].rstrip(b"\0"))
                events.append((wd, mask, name))
                offset = start + length

    def close(self) -> None:
        os.close(self.fd)


class PathWatcher:
    """Wakes the links waiting for their port's path to appear; one per event loop."""

    def __init__(self) -> None:
        self._inotify: _Inotify | None = None
        self._failed = False  # inotify unusable: every wait is a plain sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._watched: dict[str, int] = {}  # directory -> watch descriptor

    async def wait(self, path: str, timeout: float, *, was_missing: bool = True) -> bool:
        """Wait up to `timeout` s for `path` to appear; True if it did (or may have).

        `was_missing`: the path did not exist when the caller last tried it, so if it
        exists by the time the watch is set up, it appeared in between: True at once.
        """
        if not self._ready():
            await asyncio.sleep(timeout)
            return False
        assert self._loop is not None
        path = os.path.abspath(path)
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters.setdefault(path, set()).add(future)
        try:
            self._arm()
            if was_missing and os.path.exists(path):
                return True
            async with asyncio.timeout(timeout):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self._waiters.get(path)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[path]
                    self._arm()  # drop watches nobody needs any more

    def close(self) -> None:
        inotify, self._inotify = self._inotify, None
        if inotify is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(inotify.fd)
            inotify.close()
        self._watched.clear()
        for waiting in self._waiters.values():
            for future in waiting:
                if not future.done():
                    future.set_result(None)
        self._waiters.clear()

    # -- plumbing ----------------------------------------------------------------------
    def _ready(self) -> bool:
        if self._inotify is not None:
            return True
        if self._failed:
            return False
        try:
            self._inotify = _Inotify()
        except (OSError, AttributeError) as exc:  # AttributeError: a libc without inotify
            self._failed = True
            log.warning("port_watch_unavailable", error=str(exc), fallback="backoff")
            return False
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._inotify.fd, self._on_events)
        return True

    def _arm(self) -> None:
        """Watch the nearest existing directory of every awaited path, and nothing else."""
        inotify = self._inotify
        if inotify is None:
            return
        wanted = {_nearest_directory(path) for path in self._waiters}
        for directory in list(self._watched):
            if directory not in wanted:
                inotify.rm_watch(self._watched.pop(directory))
        for directory in wanted - self._watched.keys():
            try:
                self._watched[directory] = inotify.add_watch(directory)
            except OSError as exc:  # e.g. the watch limit: those links use the backoff
                log.warning("port_watch_failed", directory=directory, error=str(exc))

    def _on_events(self) -> None:
        inotify = self._inotify
        if inotify is None:
            return
        events = inotify.read_events()
        if not events:
            return
        directories = {wd: directory for directory, wd in self._watched.items()}
        touched: set[str] = set()  # what appeared: a path, or a directory on the way to one
        overflow = False
        for wd, mask, name in events:
            if mask & _IN_IGNORED:  # the directory went away, or we removed the watch
                for directory, watched in list(self._watched.items()):
                    if watched == wd:
                        del self._watched[directory]
            elif mask & _IN_Q_OVERFLOW:
                overflow = True  # events were lost: look at every path
                log.info("port_watch_overflow")
            elif name and wd in directories:
                touched.add(os.path.join(directories[wd], name))
        for path, waiting in list(self._waiters.items()):
            concerned = overflow or any(path == t or path.startswith(t + os.sep) for t in touched)
            if concerned and os.path.exists(path):
                for future in waiting:
                    if not future.done():
                        future.set_result(None)
        # Directories may have come or gone on the way to a path: watch the new nearest.
        self._arm()


def _nearest_directory(path: str) -> str:
    """The deepest existing directory on the way to `path` (its parent, if that exists)."""
    directory = os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(directory):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory
