"""A virtual card reader on a pseudo-terminal, for tests, benchmarks and demos.

The daemon opens the PTY's slave path like a real serial port; the emulator drives
gateway.protocol.reader.ReaderMachine on the master side with loop.add_reader and one
timer handle per reader: no thread and no task per reader, so hundreds fit in one
process. The master is in packet mode (TIOCPKT) so that the host flushing its input
when it opens the port is seen, which is how `reset_on_open` imitates an Uno's reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import struct
import termios
import tty
from dataclasses import dataclass
from pathlib import Path

from gateway.logs import get_logger
from gateway.protocol import Decoder, Role, Status, encode
from gateway.protocol.reader import (
    Offline,
    Online,
    ReaderCounters,
    ReaderMachine,
    Rebooted,
    Refused,
    SwipeDone,
)

_READ_SIZE = 4096
_MAX_BACKLOG = 64 * 1024  # unsent bytes kept while the host is not reading; then dropped
_ROLES = {"in": Role.IN, "out": Role.OUT, "unset": Role.UNSET}


@dataclass(frozen=True)
class TapResult:
    """What the reader showed after a tap. `status` None: it gave up after its retries."""

    status: Status | None
    text: str
    latency_s: float
    sends: int

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


def parse_role(role: Role | str) -> Role:
    if isinstance(role, Role):
        return role
    try:
        return _ROLES[role.lower()]
    except KeyError:
        raise ValueError(f"role must be one of in, out, unset; got {role!r}") from None


class _Pty:
    """One PTY 'cable': the master we speak on and a slave fd we hold open.

    Holding the slave open keeps the master from reporting a hang-up (which would make
    add_reader fire in a loop) while the daemon has the port closed.
    """

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        try:
            # Raw mode: no echo of what we write, no line editing, all 256 byte values.
            tty.setraw(self.slave)
            fcntl.ioctl(self.master, termios.TIOCPKT, struct.pack("i", 1))
            os.set_blocking(self.master, False)
            self.path = os.ttyname(self.slave)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class VirtualReader:
    """A reader that follows docs/PROTOCOL.md section 6, on a PTY."""

    def __init__(
        self,
        role: Role | str,
        *,
        name: str = "",
        hardware_id: bytes | None = None,
        session: int | None = None,
        link_path: Path | str | None = None,
        reset_on_open: bool = False,
    ) -> None:
        self.name = name
        if hardware_id is None:
            # Stable per name, like a board's serial number; random when unnamed.
            hardware_id = hashlib.sha256(name.encode()).digest()[:8] if name else os.urandom(8)
        if session is None:
            session = int.from_bytes(os.urandom(4), "big")
        self._machine = ReaderMachine(parse_role(role), hardware_id, session)
        self.link_path = Path(link_path) if link_path is not None else None
        self.reset_on_open = reset_on_open
        self.opens = 0  # times the host opened (flushed) the port
        self._opened = asyncio.Event()  # set at each open; see wait_opened()
        self.frames_dropped = 0  # frames written while nobody could take them
        self._log = get_logger("emulator", reader=name)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pty: _Pty | None = None
        self._decoder = Decoder()
        self._backlog = bytearray()
        self._writing = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._online = asyncio.Event()
        self._offline = asyncio.Event()
        self._offline.set()
        self._taps: dict[int, asyncio.Future[TapResult]] = {}
        self._tap_lock = asyncio.Lock()
        self._closed = False

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._plug()
        self._machine.start(self._loop.time())
        self._after_input()
        self._log.debug("reader_started", port=self.port, session=self._machine.session)

    async def unplug(self) -> None:
        """Pull the cable: the PTY goes away (and the symlink with it)."""
        self._unplug()
        self._log.debug("reader_unplugged")

    async def replug(self) -> None:
        """Plug the cable back: a new PTY; the session and any pending SWIPE are kept."""
        if self._pty is None and not self._closed:
            self._plug()
            self._log.debug("reader_replugged", port=self.port)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._unplug()
        for future in self._taps.values():
            if not future.done():
                future.set_result(TapResult(None, "", 0.0, 0))
        self._taps.clear()

    async def __aenter__(self) -> VirtualReader:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- what tests and tools use ---------------------------------------------------------

    @property
    def port(self) -> str:
        """The path the daemon should open: the symlink if there is one, else the PTY."""
        if self.link_path is not None:
            return str(self.link_path)
        if self._pty is None:
            raise RuntimeError("the reader is not started or is unplugged")
        return self._pty.path

    @property
    def pty_path(self) -> str | None:
        return self._pty.path if self._pty is not None else None

    @property
    def online(self) -> bool:
        return self._machine.online

    @property
    def lcd(self) -> list[str]:
        return list(self._machine.lcd)

    @property
    def session(self) -> int:
        return self._machine.session

    @property
    def hardware_id(self) -> bytes:
        return self._machine.hardware_id

    @property
    def role(self) -> Role:
        return self._machine.role

    @property
    def counters(self) -> ReaderCounters:
        return self._machine.counters

    @property
    def frames_received(self) -> int:
        return self._machine.counters.frames_received

    @property
    def naks_received(self) -> int:
        return self._machine.counters.naks_received

    @property
    def hellos_sent(self) -> int:
        return self._machine.counters.hellos_sent

    async def wait_online(self, timeout: float | None = None) -> None:
        """Wait until the gateway has acknowledged HELLO (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            await self._online.wait()

    async def wait_offline(self, timeout: float | None = None) -> None:
        """Wait until the reader is not online (gateway gone, NOT_READY, unplugged...)."""
        async with asyncio.timeout(timeout):
            await self._offline.wait()

    async def wait_opened(self, after: int, timeout: float | None = None) -> None:
        """Wait until the host has opened the port more than `after` times in all."""
        async with asyncio.timeout(timeout):
            while self.opens <= after:
                self._opened.clear()
                await self._opened.wait()

    async def tap(self, uid: bytes, timeout: float = 10.0) -> TapResult:
        """Tap a card and wait for the RESULT (or for the reader to give up)."""
        loop = self._require_loop()
        async with self._tap_lock:
            seq = self._machine.tap(uid, loop.time())
            if seq is None:  # cannot happen under the lock; keep the contract anyway
                return TapResult(None, "", 0.0, 0)
            future: asyncio.Future[TapResult] = loop.create_future()
            self._taps[seq] = future
            self._after_input()
            try:
                async with asyncio.timeout(timeout):
                    return await asyncio.shield(future)
            except TimeoutError:
                self._machine.abandon(loop.time())
                self._after_input()
                return future.result() if future.done() else TapResult(None, "", timeout, 0)
            finally:
                self._taps.pop(seq, None)

    def send_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line (garbage, corrupt frames)."""
        self._write(data)

    # --- plumbing -------------------------------------------------------------------------

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("call start() first")
        return self._loop

    def _plug(self) -> None:
        loop = self._require_loop()
        pty = _Pty()
        self._pty = pty
        self._decoder.reset()
        self._backlog.clear()
        loop.add_reader(pty.master, self._on_readable)
        if self.link_path is not None:
            tmp = self.link_path.with_name(f".{self.link_path.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(pty.path, tmp)
            os.replace(tmp, self.link_path)  # atomic: the daemon never sees a half state

    def _unplug(self) -> None:
        pty = self._pty
        if pty is None:
            return
        self._pty = None
        loop = self._require_loop()
        loop.remove_reader(pty.master)
        if self._writing:
            loop.remove_writer(pty.master)
            self._writing = False
        self._backlog.clear()
        if self.link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                if os.readlink(self.link_path) == pty.path:
                    self.link_path.unlink()
        pty.close()

    def _drop_backlog(self) -> None:
        self._backlog.clear()
        if self._writing and self._pty is not None:
            self._require_loop().remove_writer(self._pty.master)
        self._writing = False

    def _on_readable(self) -> None:
        pty = self._pty
        if pty is None:
            return
        try:
            packet = os.read(pty.master, _READ_SIZE + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._log.debug("reader_read_failed", error=str(exc))
            return
        if not packet:
            return
        now = self._require_loop().time()
        if packet[0] == termios.TIOCPKT_DATA:
            for item in self._decoder.feed(packet[1:]):
                self._machine.receive(item, now)
        elif packet[0] & termios.TIOCPKT_FLUSHREAD:
            # The host flushed its input: it has just opened the port, and whatever we
            # had queued for it is gone, as on a real line.
            self.opens += 1
            self._opened.set()
            self._drop_backlog()
            self._machine.host_opened(now, reset=self.reset_on_open)
        self._after_input()

    def _after_input(self) -> None:
        """Send what the machine wants sent, report its events, re-arm the timer."""
        machine = self._machine
        for msg in machine.take_output():
            self._write(encode(msg))
        for event in machine.take_events():
            if isinstance(event, SwipeDone):
                future = self._taps.get(event.seq)
                if future is not None and not future.done():
                    future.set_result(
                        TapResult(event.status, event.text, event.latency_s, event.sends)
                    )
                if event.status is None:
                    self._log.info("tap_gave_up", seq=event.seq, sends=event.sends)
            elif isinstance(event, Online):
                self._log.debug("reader_online", heartbeat_ms=event.heartbeat_ms)
            elif isinstance(event, Offline | Refused | Rebooted):
                self._log.info("reader_" + type(event).__name__.lower())
        # Both events follow the machine's state after every input and timer.
        if machine.online:
            self._online.set()
            self._offline.clear()
        else:
            self._online.clear()
            self._offline.set()
        if not self._closed:
            self._arm_timer(machine.next_deadline())

    def _arm_timer(self, when: float) -> None:
        loop = self._require_loop()
        if self._timer is not None:
            if self._timer_at == when:
                return
            self._timer.cancel()
        self._timer_at = when
        self._timer = loop.call_at(max(when, loop.time()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._machine.poll(self._require_loop().time())
        self._after_input()

    def _write(self, data: bytes) -> None:
        pty = self._pty
        if pty is None:
            self.frames_dropped += 1  # unplugged: the bytes go nowhere
            return
        if self._backlog:
            if len(self._backlog) + len(data) > _MAX_BACKLOG:
                self.frames_dropped += 1
            else:
                self._backlog += data
            return
        try:
            written = os.write(pty.master, data)
        except BlockingIOError:
            written = 0
        except OSError:
            self.frames_dropped += 1
            return
        if written < len(data):
            self._backlog += data[written:]
            self._require_loop().add_writer(pty.master, self._on_writable)
            self._writing = True

    def _on_writable(self) -> None:
        pty = self._pty
        if pty is None:
            return
        try:
            written = os.write(pty.master, self._backlog)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._backlog)
        del self._backlog[:written]
        if not self._backlog:
            self._require_loop().remove_writer(pty.master)
            self._writing = False


__all__ = ["TapResult", "VirtualReader", "parse_role"]
