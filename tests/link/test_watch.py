"""The port watch on real directories, PTYs and symlinks; then a link replugged through it.

The links here use a reconnect backoff of 30 s, so a reader that is back within the
tests' (generous) time limits was brought back by the watch, not by the backoff.
"""

from __future__ import annotations

import asyncio
import os
import pty
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import ReaderConfig
from gateway.domain import IncomingSwipe
from gateway.emulator import VirtualReader
from gateway.link import Answer, Link, LinkState, PathWatcher
from gateway.link import link as link_module
from gateway.protocol import Status

UID = bytes.fromhex("04A1B2C3")
LONG_S = 30.0  # a wait the watch must cut short
LIMIT_S = 10.0  # what "at once" may take on a loaded shared machine


async def until(predicate: Callable[[], bool], timeout: float = LIMIT_S) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def a_pty() -> tuple[int, int, str]:
    master, slave = pty.openpty()
    return master, slave, os.ttyname(slave)


async def test_a_symlink_that_appears_wakes_the_wait(tmp_path: Path) -> None:
    watcher = PathWatcher()
    master, slave, tty = a_pty()
    try:
        path = tmp_path / "by-id" / "reader"
        path.parent.mkdir()
        waiting = asyncio.create_task(watcher.wait(str(path), LONG_S))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        started = time.monotonic()
        os.symlink(tty, path)
        async with asyncio.timeout(LIMIT_S):
            assert await waiting is True
        assert time.monotonic() - started < LIMIT_S
    finally:
        watcher.close()
        os.close(master)
        os.close(slave)


async def test_directories_that_come_back_on_the_way_are_followed(tmp_path: Path) -> None:
    # udev removes /dev/serial/by-id (and /dev/serial) with the last device in it.
    watcher = PathWatcher()
    master, slave, tty = a_pty()
    try:
        path = tmp_path / "serial" / "by-id" / "reader"
        waiting = asyncio.create_task(watcher.wait(str(path), LONG_S))
        await asyncio.sleep(0.1)
        (tmp_path / "serial").mkdir()
        await asyncio.sleep(0.1)  # the watch moves down to serial/
        (tmp_path / "serial" / "by-id").mkdir()
        await asyncio.sleep(0.1)
        assert not waiting.done()
        os.symlink(tty, path)
        async with asyncio.timeout(LIMIT_S):
            assert await waiting is True
        assert watcher._watched == {}  # nobody waits: no watch left behind
    finally:
        watcher.close()
        os.close(master)
        os.close(slave)


async def test_a_symlink_to_nothing_does_not_wake_and_the_wait_ends_on_time(
    tmp_path: Path,
) -> None:
    watcher = PathWatcher()
    try:
        path = tmp_path / "reader"
        waiting = asyncio.create_task(watcher.wait(str(path), 0.5))
        await asyncio.sleep(0.1)
        os.symlink(tmp_path / "no-such-tty", path)  # a dangling link is no port yet
        async with asyncio.timeout(LIMIT_S):
            assert await waiting is False
    finally:
        watcher.close()


async def test_a_path_that_appeared_before_the_watch_was_set_wakes_at_once(
    tmp_path: Path,
) -> None:
    watcher = PathWatcher()
    try:
        path = tmp_path / "reader"
        path.touch()  # it appeared between the failed open and the wait
        async with asyncio.timeout(LIMIT_S):
            assert await watcher.wait(str(path), LONG_S, was_missing=True) is True
        # A path that was there all along (busy, forbidden) waits for an event instead.
        async with asyncio.timeout(LIMIT_S):
            assert await watcher.wait(str(path), 0.2, was_missing=False) is False
    finally:
        watcher.close()


async def ok_handler(swipe: IncomingSwipe) -> Answer:
    return Answer(Status.OK, "In - Ana")


@pytest.mark.parametrize("directory_goes_too", [False, True])
async def test_a_replugged_reader_is_back_at_once_not_after_the_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, directory_goes_too: bool
) -> None:
    monkeypatch.setattr(link_module, "BACKOFF_START_S", LONG_S)
    monkeypatch.setattr(link_module, "BACKOFF_MAX_S", LONG_S)
    by_id = tmp_path / "serial" / "by-id"
    by_id.mkdir(parents=True)
    watcher = PathWatcher()
    reader = VirtualReader("in", name="r", link_path=by_id / "r")
    await reader.start()
    link = Link(
        ReaderConfig(name="r", port=str(by_id / "r"), role="in"),
        ok_handler,
        heartbeat_ms=1000,
        watcher=watcher,
    )
    link.start()
    try:
        await reader.wait_online(LIMIT_S)
        await until(lambda: link.state is LinkState.READY)
        for _ in range(2):
            await reader.unplug()
            if directory_goes_too:
                shutil.rmtree(tmp_path / "serial")
            await until(lambda: link.state is LinkState.DOWN)
            await asyncio.sleep(0.2)  # the link is in its 30 s backoff now
            opens = reader.opens
            started = time.monotonic()
            by_id.mkdir(parents=True, exist_ok=True)
            await reader.replug()
            await reader.wait_opened(opens, timeout=LIMIT_S)
            print(f"replug to port open: {(time.monotonic() - started) * 1000:.1f} ms")
            await until(lambda: link.state is LinkState.READY)
            assert (await reader.tap(UID)).status is Status.OK
        assert link.reconnects == 2
    finally:
        await link.stop()
        await reader.close()
        watcher.close()
