"""The thin adapter over the serial library: the only module that imports it.

pyserial-asyncio-fast's transport closes ports in an executor thread and reports the
loss of a port only after it is really closed; opening is done here, in an executor
too (docs/SERIAL.md has the measurements behind that choice). Swapping the library
means rewriting this file and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import serial
import serial_asyncio_fast
from serial.tools import list_ports

# How long a graceful close may wait for buffered bytes before the port is dropped.
_CLOSE_GRACE_S = 1.0
BY_ID_DIR = Path("/dev/serial/by-id")


class PortError(Exception):
    """The port could not be opened or used; the message says why in one line.

    `missing`: the path did not exist (unplugged), as opposed to busy or forbidden.
    """

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


class _Protocol(asyncio.Protocol):
    def __init__(
        self, on_data: Callable[[bytes], None], lost: asyncio.Future[Exception | None]
    ) -> None:
        self._on_data = on_data
        self._lost = lost

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._lost.done():
            self._lost.set_result(exc)


class _Port(serial.Serial):  # type: ignore[misc]
    """pyserial's POSIX port, made fit for an event loop with many ports.

    pyserial's `read()` waits in `select()`, which refuses descriptors numbered 1024 or
    more (found by the 256-reader benchmark: docs/PERFORMANCE.md), and every port opens
    two pipes (four descriptors) that exist only to cancel blocking calls. The event
    loop already knows the descriptor is readable and the transport never blocks, so
    this reads (and writes) it directly and closes the pipes: one descriptor per reader.
    """

    fd: int | None
    is_open: bool
    _PIPES = ("pipe_abort_read_r", "pipe_abort_read_w", "pipe_abort_write_r", "pipe_abort_write_w")

    def open(self) -> None:
        super().open()
        for name in self._PIPES:
            fd = getattr(self, name, None)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def close(self) -> None:
        if self.is_open:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            self.is_open = False

    def write(self, data: bytes) -> int:
        # pyserial's write builds a Timeout and loops for blocking ports; the transport
        # only ever writes non-blocking and buffers what is left, so one os.write does.
        # BlockingIOError goes up as is: the transport keeps the bytes for later.
        if not self.is_open or self.fd is None:
            raise serial.PortNotOpenError()
        try:
            return os.write(self.fd, data)
        except (BlockingIOError, InterruptedError):
            raise
        except OSError as exc:  # EIO when the device is unplugged
            raise serial.SerialException(f"write failed: {exc}") from None

    def read(self, size: int = 1) -> bytes:
        if not self.is_open or self.fd is None:
            raise serial.PortNotOpenError()
        try:
            data = os.read(self.fd, size)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:  # EIO when the device is unplugged
            raise serial.SerialException(f"read failed: {exc}") from None
        if not data:
            raise serial.SerialException("device returned no data: disconnected?")
        return data


def _open_port(path: str, baud: int) -> _Port:
    # timeout 0 and write_timeout 0: the transport sets them anyway; set before open,
    # they cost no extra reconfiguration on the event loop's thread.
    return _Port(path, baudrate=baud, exclusive=True, timeout=0, write_timeout=0)


class SerialPort:
    """One open serial port; bytes arrive through `on_data` on the event loop."""

    def __init__(self, path: str, transport: Any, lost: asyncio.Future[Exception | None]):
        self.path = path
        self._transport = transport
        # Resolves (with the error, or None) once the port is closed and released.
        self.lost = lost

    @classmethod
    async def open(cls, path: str, baud: int, on_data: Callable[[bytes], None]) -> SerialPort:
        """Open exclusively (a second process gets a clear error, not half the bytes).

        Whatever happens after the open itself (cancellation included), the port is
        either handed over in a SerialPort or closed: a leaked descriptor would hold
        the exclusive lock, and every later open of the reader would say "in use".
        """
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[Exception | None] = loop.create_future()
        # Opening can block (a USB device being torn down): never on the loop's thread.
        opening = loop.run_in_executor(None, _open_port, path, baud)
        try:
            # Shielded: cancelling the wait must not drop a port the thread then opens.
            port = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)
            raise
        except (serial.SerialException, OSError, ValueError) as exc:
            missing = not os.path.exists(path)
            raise PortError(_describe_open_error(path, exc, missing), missing=missing) from None
        try:
            transport, _ = await serial_asyncio_fast.connection_for_serial(
                loop, lambda: _Protocol(on_data, lost), port
            )
        except BaseException:
            port.close()
            raise
        return cls(path, transport, lost)

    @property
    def is_open(self) -> bool:
        return not self.lost.done() and not self._transport.is_closing()

    def write(self, data: bytes) -> bool:
        """Queue bytes for the port; False if it is closing or gone."""
        if not self.is_open:
            return False
        self._transport.write(data)
        return True

    async def close(self) -> None:
        """Close and wait until the port is released (the next open can then succeed)."""
        if not self.lost.done():
            if not self._transport.is_closing():
                self._transport.close()
            try:
                async with asyncio.timeout(_CLOSE_GRACE_S):
                    await asyncio.shield(self.lost)
            except TimeoutError:
                # Bytes stuck for a device that is gone: drop them.
                self._transport.abort()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_CLOSE_GRACE_S):
                        await asyncio.shield(self.lost)


def _close_opened(opening: asyncio.Future[_Port]) -> None:
    """The open finished after its caller gave up: close what it opened."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


def _describe_open_error(path: str, exc: BaseException, missing: bool) -> str:
    text = str(exc)
    if missing:
        return f"{path}: no such device (unplugged?)"
    if "exclusively lock" in text or "Resource temporarily unavailable" in text:
        return f"{path}: in use by another process"
    if "Permission denied" in text:
        return f"{path}: permission denied (is the user in the dialout group?)"
    return f"{path}: {text}"


@dataclass(frozen=True)
class PortInfo:
    device: str
    by_id: tuple[str, ...]
    description: str
    hwid: str
    serial_number: str | None
    vid: int | None
    pid: int | None


def by_id_links(directory: Path = BY_ID_DIR) -> dict[str, list[str]]:
    """Real device path -> the stable /dev/serial/by-id symlinks pointing at it."""
    links: dict[str, list[str]] = {}
    if not directory.is_dir():
        return links
    for link in sorted(directory.iterdir()):
        with contextlib.suppress(OSError):
            links.setdefault(os.path.realpath(link), []).append(str(link))
    return links


def list_serial_ports() -> list[PortInfo]:
    """The serial ports the system knows, with their by-id names (blocking: use a thread)."""
    links = by_id_links()
    ports = []
    for info in sorted(list_ports.comports(), key=lambda p: p.device):
        ports.append(
            PortInfo(
                device=info.device,
                by_id=tuple(links.get(os.path.realpath(info.device), [])),
                description=info.description or "",
                hwid=info.hwid or "",
                serial_number=info.serial_number,
                vid=info.vid,
                pid=info.pid,
            )
        )
    return ports
