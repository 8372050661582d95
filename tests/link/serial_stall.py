"""Measure what a serial library does to the event loop while a port is unplugged and replugged.

Not a test (pytest does not collect it): the evidence behind docs/SERIAL.md. Run it once
per library in an environment that has them all:

    python tests/link/serial_stall.py pyserial-asyncio|pyserial-asyncio-fast|serialx

Two pseudo-terminals stand in for two readers: the "other" one echoes every byte back
and is pinged every 20 ms; the "victim" is opened, unplugged (its PTY master closed and
its /dev/serial/by-id-style symlink removed), retried while absent, replugged and
reopened, ten times. A monitor task records how late the loop wakes up. Printed: open
and close times, how long the loss of the victim took to be reported, the worst loop
stall and the other port's round-trip times. PTYs are not USB (no driver, no DTR reset),
so these are lower bounds for the library's own cost, not for a kernel's.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

LIB = sys.argv[1] if len(sys.argv) > 1 else "pyserial-asyncio-fast"
# "slow": pretend the driver takes 200 ms to open and to close (as a USB device that is
# being unplugged can): shows on which thread each pyserial-based library does it.
SLOW = len(sys.argv) > 2 and sys.argv[2] == "slow"
CYCLES = 10


def slow_down_pyserial() -> None:
    import serial.serialposix as sp

    orig_open, orig_close = sp.Serial.open, sp.Serial.close

    def slow_open(self: Any) -> None:
        time.sleep(0.2)
        orig_open(self)

    def slow_close(self: Any) -> None:
        if self.is_open:  # io.IOBase.__del__ also calls close(); that one costs nothing
            time.sleep(0.2)
        orig_close(self)

    sp.Serial.open, sp.Serial.close = slow_open, slow_close


async def connect(factory: Any, path: str) -> Any:
    loop = asyncio.get_running_loop()
    if LIB == "pyserial-asyncio":
        import serial_asyncio

        return await serial_asyncio.create_serial_connection(
            loop, factory, path, baudrate=115200, exclusive=True
        )
    if LIB == "pyserial-asyncio-fast":
        import serial_asyncio_fast

        return await serial_asyncio_fast.create_serial_connection(
            loop, factory, path, baudrate=115200, exclusive=True
        )
    import serialx

    return await serialx.create_serial_connection(
        loop, factory, path, baudrate=115200, exclusive=True
    )


class Proto(asyncio.Protocol):
    def __init__(self) -> None:
        self.lost: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


class Device:
    """The far end of a PTY, echoing in a thread, reachable through a symlink."""

    def __init__(self, link: str) -> None:
        self.link = link
        self.master = -1
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def plug(self) -> None:
        self.master, slave = pty.openpty()
        name = os.ttyname(slave)
        os.close(slave)
        os.symlink(name, self.link)
        self.stop.clear()
        self.thread = threading.Thread(target=self._echo, daemon=True)
        self.thread.start()

    def _echo(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1024)
            except OSError:
                time.sleep(0.01)  # nobody has the slave open yet
                continue
            os.write(self.master, data)

    def unplug(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join()
        os.unlink(self.link)
        os.close(self.master)


async def lag_monitor(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.002)
        samples.append(time.perf_counter() - t - 0.002)


async def pinger(proto: Proto, rtts: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        proto.transport.write(b"ping1234")
        got = b""
        while len(got) < 8:
            got += await proto.queue.get()
        rtts.append(time.perf_counter() - t)
        await asyncio.sleep(0.02)


async def main() -> dict[str, Any]:
    tmp = tempfile.mkdtemp()
    other, victim = Device(f"{tmp}/other"), Device(f"{tmp}/victim")
    other.plug()
    victim.plug()
    _, oproto = await connect(Proto, other.link)
    lags: list[float] = []
    rtts: list[float] = []
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(lag_monitor(lags, stop)),
        asyncio.create_task(pinger(oproto, rtts, stop)),
    ]
    opens, closes, detects, failed_opens = [], [], [], []
    await asyncio.sleep(0.2)
    for i in range(CYCLES):
        t = time.perf_counter()
        transport, proto = await connect(Proto, victim.link)
        opens.append(time.perf_counter() - t)
        await asyncio.sleep(0.1)
        if i % 2 == 0:
            # Unplugged under the library's feet: how long until connection_lost?
            t = time.perf_counter()
            await asyncio.to_thread(victim.unplug)  # joining the echo thread must not stall us
            await asyncio.wait_for(proto.lost, 5)
            detects.append(time.perf_counter() - t)
        else:
            # Closed by us, then unplugged: how long until the port is released?
            t = time.perf_counter()
            transport.close()
            await asyncio.wait_for(proto.lost, 5)
            closes.append(time.perf_counter() - t)
            await asyncio.to_thread(victim.unplug)
        for _ in range(3):  # a link retrying while the device is away
            t = time.perf_counter()
            try:
                await connect(Proto, victim.link)
            except Exception:
                failed_opens.append(time.perf_counter() - t)
            await asyncio.sleep(0.05)
        victim.plug()
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    def ms(values: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(statistics.median(values) * 1000, 2),
            "max_ms": round(max(values) * 1000, 2),
        }

    return {
        "library": LIB + (" (slow driver)" if SLOW else ""),
        "open": ms(opens),
        "close_to_connection_lost": ms(closes),
        "unplug_to_connection_lost": ms(detects),
        "failed_open": ms(failed_opens),
        "loop_lag": ms(lags),
        "other_port_rtt": ms(rtts),
        "other_port_pings": len(rtts),
    }


if __name__ == "__main__":
    if SLOW:
        slow_down_pyserial()
    print(json.dumps(asyncio.run(main())))
