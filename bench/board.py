"""Tap-to-board latency: from a tap written on an emulated reader to the board update
arriving at 1 and at 100 connected boards (server-sent-event clients), and the web
process's CPU with 100 idle boards.

The whole path runs: reader PTY -> daemon -> PostgreSQL INSERT -> the schema's NOTIFY
trigger -> `clock-gateway web`'s LISTEN -> the board recomputed once -> one SSE event
per connected board. Each board is a raw HTTP client in this process, timestamping an
event when its last byte arrives; a tap counts as seen by a board at the first event
showing the tapped person in (entrance) or gone (exit). No floor: nothing cheaper does
the same job, so the figures stand against the issue's target (under a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.env import BenchEnv
from bench.machine import REPO
from bench.rows import Row, ms, percentile, row
from bench.session import running_gateway

_CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_MS = 1000.0


class Board:
    """One connected board: a raw HTTP/1.1 GET /events, chunked SSE parsed by hand."""

    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self._writer = writer
        writer.write(b"GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"board refused: {head[:80]!r}")
        self._task = asyncio.create_task(self._read(reader, b"chunked" in head.lower()))

    async def _read(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        text = b""
        while True:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip() or b"0", 16)
                if size == 0:
                    return
                data = await reader.readexactly(size + 2)
                text += data[:-2]
            else:
                text += await reader.read(65536)
            while b"\n\n" in text:
                block, text = text.split(b"\n\n", 1)
                lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
                if lines.get(b"event") == b"board":
                    self.events.append((time.monotonic(), json.loads(lines[b"data"])))
                    self.changed.set()

    async def wait_for(self, since: float, predicate: Any, timeout: float) -> float:
        """When the first event after `since` satisfying `predicate` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            for at, data in reversed(self.events):
                if at < since:
                    break
                if predicate(data) and not any(
                    predicate(d) for t, d in self.events if since <= t < at
                ):
                    return at
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the board never showed the tap")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._writer is not None:
            self._writer.close()


def _in(name: str) -> Any:
    return lambda d: any(r["name"] == name for r in d["present"] + d["unscheduled"])


def _out(name: str) -> Any:
    return lambda d: not any(r["name"] == name for r in d["present"] + d["unscheduled"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


class WebServer:
    def __init__(self, workdir: Path, url: str) -> None:
        self.port = _free_port()
        self.config = workdir / "web.toml"
        self.log = workdir / "web.log"
        self.config.write_text(
            f'[gateway]\nstate_dir = "{workdir / "web-state"}"\n\n[database]\nurl = "{url}"\n'
            # It watches for the tapped name (initials by default); its boards share one address.
            '\n[web]\nboard = "names"\nmax_connections_per_address = 1000\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("CLOCK_GATEWAY_DATABASE_URL", None)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway",
                    "web",
                    "--config",
                    str(self.config),
                    "--port",
                    str(self.port),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=REPO,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                _r, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        raise RuntimeError(f"clock-gateway web did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def _measure(
    boards: list[Board], gw: Any, env: BenchEnv, taps: int, cards: list[int]
) -> list[float]:
    """Latencies (s) of `taps` taps across all boards: a card in at the entrance, then
    the same card out at the exit. A card whose person the board already shows in
    (another benchmark tapped it today) is skipped: its tap would change nothing."""
    entrance, exit_ = gw.readers[0], gw.readers[1]
    samples: list[float] = []
    pool = iter(cards)
    for k in range(taps):
        if k % 2 == 0:
            latest = boards[0].events[-1][1]
            i = next(c for c in pool if _out(f"Person {c:05d}")(latest))
        name = f"Person {i:05d}"
        reader, predicate = (entrance, _in(name)) if k % 2 == 0 else (exit_, _out(name))
        started = time.monotonic()
        result = await reader.tap(env.cards[i])
        if not result.ok:
            raise RuntimeError(f"tap {k} refused: {result.text!r}")
        seen = await asyncio.gather(*(b.wait_for(started, predicate, 10.0) for b in boards))
        samples.extend(at - started for at in seen)
        await asyncio.sleep(0.2)  # the next tap starts from a settled board
    return samples


async def run_board(env: BenchEnv, quick: bool) -> list[Row]:
    taps = 6 if quick else 40
    idle_s = 3.0 if quick else 20.0
    rows: list[Row] = []
    async with running_gateway(env, "board", 2) as gw:
        web = WebServer(env.new_workdir("web"), env.url)
        await web.start()
        boards: list[Board] = []
        try:
            # From the end of the pool: the other benchmarks tap from its start.
            half = len(env.cards) // 2
            pools = {1: list(range(len(env.cards) - 1, half, -1)), 100: list(range(half, 0, -1))}
            for count in (1, 100):
                while len(boards) < count:
                    board = Board()
                    await board.connect(web.port)
                    boards.append(board)
                await asyncio.gather(*(b.wait_for(0.0, lambda d: True, 10.0) for b in boards))
                samples = await _measure(boards, gw, env, taps, pools[count])
                for q in (50, 99):
                    value = ms(percentile(samples, q))
                    rows.append(
                        row(
                            f"tap-to-board p{q}, {count} board{'s' if count > 1 else ''}",
                            value,
                            "ms",
                            target=f"< {TARGET_MS:.0f} ms",
                            met=value < TARGET_MS,
                            note=f"{taps} taps, {len(samples)} board updates, PostgreSQL NOTIFY",
                        )
                    )
            assert web.proc is not None
            before = _cpu_seconds(web.proc.pid)
            await asyncio.sleep(idle_s)
            cpu = _cpu_seconds(web.proc.pid) - before
            rows.append(
                row(
                    "web CPU, 100 idle boards",
                    100 * cpu / idle_s,
                    "% of a core",
                    target="< 2 %",
                    met=100 * cpu / idle_s < 2.0,
                    note=f"{cpu:.2f} s CPU over {idle_s:.0f} s (heartbeats every 10 s)",
                )
            )
        finally:
            for board in boards:
                await board.close()
            await asyncio.to_thread(web.stop)
    return rows
