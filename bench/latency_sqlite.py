"""Swipe latency on SQLite: two emulated readers, the real daemon on a SQLite file.

The same measure as bench.latency (each swipe from SWIPE written to RESULT read, by
the emulator), with the daemon's database a SQLite file in WAL mode with
synchronous=FULL (gateway/store/engine.py), the setup of a small site and of the
tap-to-screen benchmark. The floor, measured around the run (half before, half
after) and added sample by sample: the PTY round trip (bench.echo) plus one bare
INSERT+COMMIT through sqlite3 into a copy of clock_events (its columns, checks,
foreign key and indexes) in the same file, with the same pragmas: one fsync of the
WAL per commit, which is what makes the OK true.

No PostgreSQL: the benchmark runs as a module (`python -m bench --only latency_sqlite`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import floors, trace
from bench.env import card_uid
from bench.latency import READERS
from bench.rows import Row, latency_rows, ms, percentile, row, sum_of_independent
from bench.session import Gateway, Taps, running_gateway, tap_all
from gateway.store.models import PersonImport
from gateway.store.stores import Stores

P50_LIMIT = 1.3
P99_LIMIT = 2.0
CARDS = 200


@dataclass
class SqliteHost:
    """bench.session.GatewayHost over a SQLite file in a temporary directory."""

    workdir: Path
    profile_dir: Path | None = None
    trace_dir: Path | None = None
    _runs: int = 0

    @property
    def path(self) -> Path:
        return self.workdir / "clock.db"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def new_workdir(self, name: str) -> Path:
        self._runs += 1
        path = self.workdir / f"{self._runs:02d}-{name}"
        path.mkdir(parents=True)
        return path

    def event_count(self) -> int:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
            (count,) = conn.execute("SELECT count(*) FROM clock_events").fetchone()
        return int(count)


async def _seed(host: SqliteHost, cards: list[bytes]) -> None:
    stores = Stores.open(host.url)
    try:
        await stores.db.init_schema()
        await stores.people.import_people(
            [
                PersonImport(
                    line=i + 1, uid=f"bench-{i:05d}", name=f"Person {i:05d}", card_key=c.hex()
                )
                for i, c in enumerate(cards)
            ]
        )
    finally:
        await stores.close()


async def _tap_round(gw: Gateway, cards: list[bytes], per_reader: int, offset: int) -> Taps:
    parts = [Taps() for _ in gw.readers]

    def own(k: int) -> list[bytes]:
        mine = cards[k::READERS]
        return [mine[(offset + i) % len(mine)] for i in range(per_reader)]

    await asyncio.gather(*(tap_all(r, own(k), parts[k]) for k, r in enumerate(gw.readers)))
    total = Taps()
    for part in parts:
        total.merge(part)
    return total


async def run(quick: bool = False, trace_dir: Path | None = None) -> list[Row]:
    swipes = 60 if quick else 4000
    floor_n = 40 if quick else 1000
    per_reader = swipes // READERS
    cards = [card_uid(i) for i in range(CARDS)]
    with tempfile.TemporaryDirectory(prefix="latency_sqlite.") as d:
        host = SqliteHost(Path(d), trace_dir=trace_dir)
        await _seed(host, cards)
        async with running_gateway(host, "latency_sqlite", READERS) as gw:

            async def floor_half() -> tuple[list[float], list[float]]:
                pty = await floors.pty_round_trips(floor_n // 2)
                db = await asyncio.to_thread(
                    floors.sqlite_commit_samples, host.path, "bench-00000", floor_n // 2
                )
                return pty, db

            pty, db = await floor_half()
            await _tap_round(gw, cards, 10, offset=0)  # warm-up: connection, caches
            before = host.event_count()
            cpu = gw.daemon.cpu_seconds()
            taps = await _tap_round(gw, cards, per_reader, offset=10)
            cpu = gw.daemon.cpu_seconds() - cpu
            stored = host.event_count() - before
            more_pty, more_db = await floor_half()
            pty += more_pty
            db += more_db
        await asyncio.to_thread(floors.sqlite_drop_floor_table, host.path)
    traced = []
    if trace_dir is not None:
        traced = trace.hop_rows("latency sqlite", gw.daemon.trace_file or Path(), taps.latencies)
    expected = per_reader * READERS
    return [
        *latency_rows(
            "latency sqlite",
            taps.latencies,
            sum_of_independent(pty, db),
            p50_limit=P50_LIMIT,
            p99_limit=P99_LIMIT,
        ),
        row(
            "latency sqlite swipes answered OK",
            taps.ok,
            f"of {expected}",
            target="all (and stored)",
            met=taps.ok == expected and stored >= taps.ok,
            note=f"{taps.ko} KO, {taps.retransmitted} retransmitted, {stored} rows stored",
        ),
        row("latency sqlite floor part: PTY round trip p50", ms(percentile(pty, 50)), "ms"),
        row(
            "latency sqlite floor part: INSERT+COMMIT p50",
            ms(percentile(db, 50)),
            "ms",
            note="sqlite3, WAL, synchronous=FULL, a copy of clock_events in the same file",
        ),
        row(
            "latency sqlite daemon CPU per swipe",
            ms(cpu / max(1, taps.count)),
            "ms",
            note=f"{cpu:.2f} s CPU (user + system) for {taps.count} swipes",
        ),
        *traced,
    ]
