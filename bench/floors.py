"""The floors: what the hardware and the database allow, measured in the same run.

- PTY round trip: a SWIPE-sized frame written to a PTY, a RESULT-sized frame read back
  from a trivial echo process on the other side (bench.echo).
- Commit: one INSERT of an event-sized row and its COMMIT through psycopg, on the
  same database and cluster (same fsync and synchronous_commit) as the daemon's.
- Fsync'd append: one event-sized record appended and fsync'd in the spool's directory.
- Commit loop: a bare psycopg loop of single-row INSERT+COMMIT, in rows per second.
- SQLite commit: one INSERT of a swipe's row, autocommitted through sqlite3 with the
  daemon's pragmas (WAL, synchronous=FULL), into a copy of clock_events in the file.

The synchronous ones are run in a worker thread by the callers that have emulated
readers alive, so that their heartbeats keep flowing.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import tty
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.frames import result_frame, swipe_frame
from bench.machine import REPO

FLOOR_TABLE = "bench_floor_events"
# A copy of the real events table (columns, defaults, checks, indexes; LIKE does not
# copy the foreign key, so the floor stays a lower bound) when the schema is there.
_CREATE_LIKE = f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (LIKE clock_events INCLUDING ALL)"
# Otherwise the columns of gateway.domain.ClockEvent, keyed by the idempotency key.
_CREATE_PLAIN = f"""
CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (
    event_key uuid PRIMARY KEY,
    person_uid text NOT NULL,
    card_key text NOT NULL,
    direction text NOT NULL,
    reader text NOT NULL,
    reader_hw_id text,
    received_at timestamptz NOT NULL,
    outcome text NOT NULL
)
"""
INSERT = (
    f"INSERT INTO {FLOOR_TABLE} (event_key, person_uid, card_key, direction, reader,"
    " reader_hw_id, received_at, outcome) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
# About the size of one spooled event (a JSON line with the fields above).
SPOOL_RECORD = (
    b'{"event_key":"' + str(uuid.uuid4()).encode() + b'","person_uid":"ana.garcia",'
    b'"card_key":"04A1B2C3","direction":"in","reader":"entrance",'
    b'"reader_hw_id":"0102030405060708","received_at":"2026-11-28T08:15:00.123456+00:00",'
    b'"outcome":"recorded"}\n'
)


# -- PTY round trip -------------------------------------------------------------------


async def pty_round_trips(count: int, *, warmup: int = 20) -> list[float]:
    """Seconds from writing a SWIPE-sized frame to reading a whole RESULT-sized frame."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    os.set_blocking(master, False)
    reply = result_frame(1)
    echo = subprocess.Popen(
        [sys.executable, "-m", "bench.echo", path, reply.hex()],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    assert echo.stdout is not None
    # Keep our end of the slave open until the echo process holds its own: a PTY whose
    # last slave descriptor closes hangs up, and the master then reads EIO.
    ready = await asyncio.to_thread(echo.stdout.readline)
    os.close(slave)
    if ready.strip() != b"ready":
        os.close(master)
        echo.kill()
        echo.wait()
        raise RuntimeError("the PTY echo process did not start")
    loop = asyncio.get_running_loop()
    received = asyncio.Queue[bytes]()

    def readable() -> None:
        try:
            data = os.read(master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO once the echo process has gone
            loop.remove_reader(master)
            return
        received.put_nowait(data)

    loop.add_reader(master, readable)
    samples: list[float] = []
    try:
        for i in range(warmup + count):
            frame = swipe_frame((i % 0xFFFF) + 1)
            pending = b""
            started = time.perf_counter()
            os.write(master, frame)
            while pending.count(0) < 1:
                pending += await asyncio.wait_for(received.get(), timeout=5.0)
            elapsed = time.perf_counter() - started
            if i >= warmup:
                samples.append(elapsed)
    finally:
        loop.remove_reader(master)
        os.close(master)
        echo.terminate()
        echo.wait(timeout=5)
        echo.stdout.close()
    return samples


# -- database commits -----------------------------------------------------------------


def _event_params(i: int) -> tuple[object, ...]:
    return (
        uuid.uuid4(),
        f"person-{i % 1000}",
        f"04{i % 0xFFFFFF:06X}",
        "in" if i % 2 else "out",
        "entrance",
        "0102030405060708",
        datetime.now(UTC),
        "recorded",
    )


def prepare_floor_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('clock_events')").fetchone()
        conn.execute(_CREATE_LIKE if found and found[0] else _CREATE_PLAIN)


def drop_floor_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")


FLOOR_APP = "bench-floor"


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    # Autocommit: the INSERT commits by itself, one round trip and one WAL flush, the
    # least an INSERT+COMMIT can cost (an explicit BEGIN/COMMIT would add two round
    # trips and flatter anything compared with it).
    return psycopg.connect(url, autocommit=True, application_name=FLOOR_APP)


def commit_samples(url: str, count: int, *, warmup: int = 20) -> list[float]:
    """Seconds for one INSERT of an event-sized row plus its COMMIT, `count` times."""
    prepare_floor_table(url)
    samples: list[float] = []
    with _connect(url) as conn:
        for i in range(warmup + count):
            params = _event_params(i)
            started = time.perf_counter()
            conn.execute(INSERT, params)
            elapsed = time.perf_counter() - started
            if i >= warmup:
                samples.append(elapsed)
    return samples


def commit_loop_rate(url: str, seconds: float) -> float:
    """Rows per second of a bare single-row INSERT+COMMIT loop run for `seconds`."""
    prepare_floor_table(url)
    with _connect(url) as conn:
        for i in range(20):  # warm the connection and the prepared statement
            conn.execute(INSERT, _event_params(i))
        done = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            conn.execute(INSERT, _event_params(done))
            done += 1
        return done / (time.perf_counter() - started)


# -- fsync'd append -------------------------------------------------------------------


def fsync_append_samples(directory: Path, count: int, *, warmup: int = 10) -> list[float]:
    """Seconds for appending one event-sized record and fdatasync'ing it, in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-floor-{os.getpid()}.log"
    samples: list[float] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for i in range(warmup + count):
            started = time.perf_counter()
            os.write(fd, SPOOL_RECORD)
            os.fdatasync(fd)  # as gateway.durable.spool does: data and size, not mtime
            elapsed = time.perf_counter() - started
            if i >= warmup:
                samples.append(elapsed)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return samples


# -- SQLite commits -------------------------------------------------------------------

SQLITE_FLOOR_TABLE = "bench_floor_events"


def _sqlite_floor_ddl(conn: sqlite3.Connection) -> list[str]:
    """clock_events' own CREATE TABLE and CREATE INDEX statements, renamed: the floor
    row pays for the same columns, checks, foreign key and indexes as a swipe's (its
    triggers refuse only UPDATE and DELETE: an INSERT does not run them)."""
    found = conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'clock_events' AND sql IS NOT NULL"
        " AND type IN ('table', 'index') ORDER BY type = 'index'"  # the table first
    ).fetchall()
    return [str(sql).replace("clock_events", SQLITE_FLOOR_TABLE) for (sql,) in found]


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    # The daemon's pragmas (gateway/store/engine.py): WAL, synchronous=FULL. Autocommit:
    # the INSERT is its own transaction, the least an INSERT+COMMIT can cost.
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def sqlite_commit_samples(
    path: Path, person_uid: str, count: int, *, warmup: int = 20
) -> list[float]:
    """Seconds for one INSERT of a swipe's row and its COMMIT in the SQLite file at
    `path` (a copy of clock_events beside it; `person_uid` must exist), `count` times."""
    conn = _sqlite_connect(path)
    samples: list[float] = []
    try:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ?", (SQLITE_FLOOR_TABLE,)
        ).fetchone():
            for ddl in _sqlite_floor_ddl(conn):
                conn.execute(ddl)
        insert = (
            f"INSERT INTO {SQLITE_FLOOR_TABLE} (event_key, person_uid, card_key, direction,"
            " reader, reader_hw_id, received_at, gateway_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for i in range(warmup + count):
            params = (
                uuid.uuid4().hex,
                person_uid,
                f"04{i % 0xFFFFFF:06X}",
                "in" if i % 2 else "out",
                "entrance",
                "0102030405060708",
                datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
                "default",
            )
            started = time.perf_counter()
            conn.execute(insert, params)
            elapsed = time.perf_counter() - started
            if i >= warmup:
                samples.append(elapsed)
    finally:
        conn.close()
    return samples


def sqlite_drop_floor_table(path: Path) -> None:
    conn = _sqlite_connect(path)
    try:
        conn.execute(f"DROP TABLE IF EXISTS {SQLITE_FLOOR_TABLE}")
    finally:
        conn.close()
