"""The serial adapter on real PTYs: descriptors, high descriptor numbers, unplugging."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import resource
import threading
import tty
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import serial_asyncio_fast

from gateway.link.serial_port import PortError, SerialPort


@contextlib.contextmanager
def pty_pair(link: Path) -> Iterator[int]:
    master, slave = pty.openpty()
    tty.setraw(slave)
    os.symlink(os.ttyname(slave), link)
    try:
        yield master
    finally:
        with contextlib.suppress(OSError):
            os.unlink(link)
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def roundtrip(path: Path, master: int) -> bytes:
    got: asyncio.Queue[bytes] = asyncio.Queue()
    port = await SerialPort.open(str(path), 115200, got.put_nowait)
    try:
        os.write(master, b"hello")
        data = b""
        while len(data) < 5:
            data += await asyncio.wait_for(got.get(), 5)
        assert port.write(b"back")
        await asyncio.sleep(0.05)
        assert os.read(master, 100) == b"back"
        return data
    finally:
        await port.close()


def test_one_descriptor_per_open_port(tmp_path: Path) -> None:
    async def go() -> None:
        with pty_pair(tmp_path / "p") as master:
            before = open_fds()
            port = await SerialPort.open(str(tmp_path / "p"), 115200, lambda d: None)
            assert open_fds() - before == 1  # pyserial alone would hold 5
            os.write(master, b"x")
            await port.close()
            assert open_fds() == before

    asyncio.run(go())


def test_descriptors_above_1024_work(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard descriptor limit ({hard}) is too low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler: list[int] = []
    try:
        while True:  # push the next descriptor past select()'s limit
            fd = os.open(os.devnull, os.O_RDONLY)
            filler.append(fd)
            if fd >= 1030:
                break
        with pty_pair(tmp_path / "p") as master:
            assert asyncio.run(roundtrip(tmp_path / "p", master)) == b"hello"
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_unplug_is_reported_and_the_port_released(tmp_path: Path) -> None:
    async def go() -> None:
        link = tmp_path / "p"
        with pty_pair(link) as master:
            before = open_fds()
            port = await SerialPort.open(str(link), 115200, lambda d: None)
            os.unlink(link)
            os.close(master)  # the cable is pulled
            error = await asyncio.wait_for(port.lost, 5)
            assert error is not None  # EIO or end of file, depending on the kernel
            await port.close()
            assert open_fds() == before - 1  # our master is gone too, the port released
        with pytest.raises(PortError, match="no such device"):
            await SerialPort.open(str(link), 115200, lambda d: None)

    asyncio.run(go())


class HeldExecutor(ThreadPoolExecutor):
    """Runs each job, then holds on to its result until released: an open that returns late."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.release = threading.Event()
        self.done: list[object] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def held() -> Any:
            result = fn(*args, **kwargs)
            self.done.append(result)
            self.release.wait(10)
            return result

        return super().submit(held)


def ignore(data: bytes) -> None:
    pass


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_an_open_cancelled_while_the_thread_opens_closes_the_port(tmp_path: Path) -> None:
    async def go() -> None:
        held = HeldExecutor()
        asyncio.get_running_loop().set_default_executor(held)
        with pty_pair(tmp_path / "p"):
            before = open_fds()
            opening = asyncio.create_task(SerialPort.open(str(tmp_path / "p"), 115200, ignore))
            await until(lambda: bool(held.done))  # the thread has the port open
            assert open_fds() == before + 1
            opening.cancel()
            with pytest.raises(asyncio.CancelledError):
                await opening
            held.release.set()
            await until(lambda: open_fds() == before)
            # Not held exclusively by a leaked descriptor: it opens again.
            port = await SerialPort.open(str(tmp_path / "p"), 115200, ignore)
            await port.close()

    asyncio.run(go())


def test_a_failing_connection_setup_closes_the_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> object:
        raise RuntimeError("setup failed")

    async def go() -> None:
        with pty_pair(tmp_path / "p"):
            before = open_fds()
            with monkeypatch.context() as patch:
                patch.setattr(serial_asyncio_fast, "connection_for_serial", broken)
                with pytest.raises(RuntimeError, match="setup failed"):
                    await SerialPort.open(str(tmp_path / "p"), 115200, ignore)
            assert open_fds() == before
            port = await SerialPort.open(str(tmp_path / "p"), 115200, ignore)
            await port.close()

    asyncio.run(go())
