"""The fault-test rig: the daemon as a subprocess, two emulated readers, our own cluster.

Each tap is identified by the event key the daemon derives from it (reader hardware
id, session, seq, card; docs/PROTOCOL.md section 3): the emulator numbers a session's
SWIPEs 1, 2, 3..., so the k-th tap of a reader has seq k. `verify()` then compares
the taps the reader side saw acknowledged (status OK) with the rows in PostgreSQL:
every acknowledged tap stored exactly once, nothing stored that was never tapped, and
each reader's rows in tap order.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.kit.harness import DaemonProcess, seed
from gateway.domain import card_key_from_uid, event_key_for
from gateway.emulator import VirtualReader
from gateway.protocol import Status
from gateway.status import read_status

ANA = bytes.fromhex("04A1B2C3")
BEA = bytes.fromhex("04112233445566")
PEOPLE = [("ana", "Ana", "04A1B2C3"), ("bea", "Bea", "04112233445566")]


@dataclass(frozen=True)
class Tap:
    reader: str
    seq: int
    key: uuid.UUID
    status: Status | None  # None: the reader gave up after its retransmissions
    text: str
    latency_s: float
    sends: int


@dataclass
class Figures:
    taps: int = 0
    acknowledged: int = 0
    refused: int = 0  # status KO
    gave_up: int = 0  # no RESULT after all retransmissions
    retransmitted: int = 0  # taps that needed more than one SWIPE frame
    rows: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        data = {k: v for k, v in self.__dict__.items() if k != "extra"} | self.extra
        return json.dumps(data)


class Rig:
    def __init__(
        self,
        tmp_path: Path,
        url: str,
        *,
        wait_s: float = 0.5,
        spool_max: int = 1_000_000,
        state_dir: Path | None = None,
        gateway_id: str | None = None,
        names: tuple[str, str] = ("entrance", "exit"),
    ) -> None:
        """names: the entrance's and the exit's reader names (each a board of its own)."""
        self.url = url
        self.state = state_dir or tmp_path / "state"
        self.gateway_id = gateway_id
        entrance, exit_ = names
        self.readers = {
            entrance: VirtualReader("in", name=entrance, link_path=tmp_path / entrance),
            exit_: VirtualReader("out", name=exit_, link_path=tmp_path / exit_),
        }
        self.cards = {entrance: ANA, exit_: BEA}
        self.taps: dict[str, list[Tap]] = {name: [] for name in self.readers}
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            "\n".join(
                [
                    "[gateway]",
                    f"state_dir = {json.dumps(str(self.state))}",
                    "duplicate_window_s = 0",
                    'log_level = "info"',
                    *([f"id = {json.dumps(gateway_id)}"] if gateway_id else []),
                    "",
                    "[database]",
                    f"url = {json.dumps(url)}",
                    f"wait_s = {wait_s}",
                    "",
                    "[spool]",
                    f"max_events = {spool_max}",
                    "",
                ]
                + [
                    f'[[readers]]\nname = "{name}"\nport = "{reader.link_path}"\n'
                    f'role = "{"in" if name == entrance else "out"}"\n'
                    for name, reader in self.readers.items()
                ]
            )
        )
        self.sessions: dict[str, int] = {}
        self.daemon: DaemonProcess | None = None
        self.daemons: list[DaemonProcess] = []

    # -- lifecycle -------------------------------------------------------------------
    async def seed(self) -> None:
        await asyncio.to_thread(seed, self.url, PEOPLE)

    async def start_readers(self) -> None:
        for reader in self.readers.values():
            await reader.start()
        self.sessions = {name: r.session for name, r in self.readers.items()}

    async def start_daemon(self, *, wait_online: bool = True) -> DaemonProcess:
        daemon = DaemonProcess(self.config)
        self.daemon = daemon
        self.daemons.append(daemon)
        await asyncio.to_thread(daemon.start)
        await asyncio.to_thread(daemon.wait_ready, 60)
        if wait_online:
            for reader in self.readers.values():
                await reader.wait_online(30)
        return daemon

    async def stop_daemon(self) -> int:
        assert self.daemon is not None
        return await asyncio.to_thread(self.daemon.stop, 20)

    async def kill_daemon(self) -> None:
        assert self.daemon is not None
        await asyncio.to_thread(self.daemon.kill)

    async def close(self) -> None:
        for daemon in self.daemons:
            await asyncio.to_thread(daemon.kill)
        for reader in self.readers.values():
            await reader.close()

    # -- taps ------------------------------------------------------------------------
    async def tap(self, name: str) -> Tap:
        reader = self.readers[name]
        card = self.cards[name]
        seq = len(self.taps[name]) + 1
        refused_since: float | None = None
        while True:
            result = await reader.tap(card, timeout=15)
            if result.sends or result.status is not None or result.latency_s:
                break
            # The reader sent nothing (a SWIPE of its own still pending: it answers at
            # once, without awaiting). Not a tap: let the event loop run its timers and
            # I/O (tapping again at once would spin forever and starve them), retry.
            now = time.monotonic()
            refused_since = refused_since or now
            if now - refused_since > 30:
                raise AssertionError(f"{name}: the reader kept a SWIPE pending for 30 s")
            await asyncio.sleep(0.01)
        key = event_key_for(reader.hardware_id, reader.session, seq, card_key_from_uid(card))
        tap = Tap(name, seq, key, result.status, result.text, result.latency_s, result.sends)
        self.taps[name].append(tap)
        return tap

    async def burst(
        self,
        name: str,
        count: int | None = None,
        *,
        until: asyncio.Event | None = None,
        on_tap: Callable[[Tap], None] | None = None,
    ) -> None:
        """Tap `count` times, or until `until` is set."""
        done = 0
        while (count is None or done < count) and not (until is not None and until.is_set()):
            tap = await self.tap(name)
            done += 1
            if on_tap is not None:
                on_tap(tap)
            # A tap answered without the loop ever waiting (a done future) must not
            # keep the loop from the other tasks, timers and test time limits.
            await asyncio.sleep(0)

    def taps_flat(self) -> list[Tap]:
        return [t for taps in self.taps.values() for t in taps]

    def acked(self, name: str | None = None) -> int:
        names = [name] if name else list(self.taps)
        return sum(1 for n in names for t in self.taps[n] if t.status is Status.OK)

    # -- checks ----------------------------------------------------------------------
    def rows(self) -> list[tuple[uuid.UUID, str]]:
        with psycopg.connect(self.url) as conn:
            return [
                (r[0], r[1])
                for r in conn.execute("SELECT event_key, reader FROM clock_events ORDER BY id")
            ]

    async def wait_drained(self, timeout: float = 60.0) -> float:
        """Wait until the daemon reports an empty spool and a working database."""
        started = time.monotonic()
        since = time.time()  # only a status written after this call counts
        while True:
            status = await asyncio.to_thread(read_status, self.state)
            if (
                status is not None
                and status.spool_depth == 0
                and status.database_ok
                and status.updated_at.timestamp() > since
            ):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"spool not drained in {timeout} s: {status}")
            await asyncio.sleep(0.1)

    def verify(self) -> Figures:
        """The invariants; raises AssertionError with the first few offenders."""
        rows = self.rows()
        reader_of = dict(rows)
        all_taps = {t.key: t for taps in self.taps.values() for t in taps}
        acked = [t for t in all_taps.values() if t.status is Status.OK]
        keys = [k for k, _ in rows]
        figures = Figures(
            taps=len(all_taps),
            acknowledged=len(acked),
            refused=sum(1 for t in all_taps.values() if t.status is Status.KO),
            gave_up=sum(1 for t in all_taps.values() if t.status is None),
            retransmitted=sum(1 for t in all_taps.values() if t.sends > 1),
            rows=len(rows),
            lost=sum(1 for t in acked if t.key not in reader_of),
            duplicated=len(keys) - len(set(keys)),
        )
        assert len(all_taps) == sum(len(t) for t in self.taps.values()), "event keys collide"
        missing = [t for t in acked if t.key not in reader_of]
        assert not missing, f"{len(missing)} acknowledged taps not stored: {missing[:3]}"
        assert figures.duplicated == 0, "an event was stored twice"
        phantom = [k for k in keys if k not in all_taps]
        assert not phantom, f"{len(phantom)} stored events were never tapped: {phantom[:3]}"
        for name in self.taps:
            seqs = [all_taps[k].seq for k, r in rows if r == name]
            assert seqs == sorted(seqs), f"{name}: rows out of tap order"
        for name, reader in self.readers.items():
            # The seq numbering above assumes one session per reader.
            assert reader.session == self.sessions[name], f"{name} started a new session"
        return figures

    def log_events(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [e for d in self.daemons for e in d.find(event, **match)]


def report(test: str, figures: Figures) -> None:
    """Print the figures (`pytest -s` shows them); with $FAULT_FIGURES, append them there."""
    line = json.dumps({"test": test, **json.loads(figures.line())})
    print(line)
    if target := os.environ.get("FAULT_FIGURES"):
        with open(target, "a") as f:
            f.write(line + "\n")
