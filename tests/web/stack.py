"""The whole system for browser tests and the tap-to-board benchmark: a database with
people and a timetable around now, the real daemon with two readers on PTYs, and
`clock-gateway web` as a subprocess. Everything blocks with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# Re-exported: the browser tests take the one browser from here.
from bench.kit.browser import chromium_paths as chromium_paths
from bench.kit.browser import new_browser as new_browser
from bench.kit.harness import REPO_ROOT, DaemonProcess, PtyReader, write_config
from gateway.domain import ClockEvent, Direction, Outcome
from gateway.protocol import Role
from gateway.store.audit import Actor
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores
from gateway.web.security import hash_password

ZONE = ZoneInfo("Europe/Madrid")
ADMIN, PASSWORD = "secretaria", "correct horse battery"
# (uid, name, card, room); the first ten are scheduled around now.
PEOPLE = [
    ("ana.garcia", "Ana García", "04A1B2C3", "Aula 12"),
    ("luis.nunez", "Luis Núñez", "04B2C3D4", "Laboratorio"),
    ("eva.martin", "Eva Martín", "04E1E2E3", "Aula 3"),
    ("pau.soler", "Pau Soler", "04A0A0A0", "Biblioteca"),
    ("irene.ruiz", "Irene Ruiz Ortega", "04B0B0B0", "Aula 7"),
    ("jorge.pena", "Jorge Peña", "04D0D0D0", "Taller"),
    ("carmen.vidal", "Carmen Vidal", "04F0F0F0", "Aula 12"),
    ("david.moreno", "David Moreno", "04C1D1E1", "Gimnasio"),
    ("lucia.ferrer", "Lucía Ferrer", "04C2D2E2", "Aula 5"),
    ("sergio.gil", "Sergio Gil", "04C3D3E3", "Música"),
    ("marta.ruiz", "Marta Ruiz", None, ""),  # a newcomer without a card
    ("raul.ortiz", "Raúl Ortiz", "04C4D4E4", ""),  # not scheduled now
    ("nuria.blanco", "Nuria Blanco", None, ""),
]
SCHEDULED = [p for p in PEOPLE[:10]]
ALREADY_IN = ("luis.nunez", "pau.soler", "carmen.vidal", "lucia.ferrer", "sergio.gil")
UNKNOWN_CARD = "04C0FFEE"
# name, password, role, expires_at; a "worker" account's name is its person's uid.
Account = tuple[str, str, str, datetime | None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _event(uid: str, card: str, direction: str, at: datetime) -> ClockEvent:
    return ClockEvent(
        event_key=uuid.uuid4(),
        person_uid=uid,
        card_key=card,
        direction=Direction(direction),
        reader="entrance" if direction == "in" else "exit",
        reader_hw_id=None,
        received_at=at,
        outcome=Outcome.RECORDED,
    )


async def _seed(
    url: str, now: datetime, history_days: int, accounts: Sequence[Account] = ()
) -> None:
    stores = Stores.open(url)
    try:
        await stores.db.init_schema()
        cli = Actor("cli:test")
        await stores.accounts.add(ADMIN, hash_password(PASSWORD), cli, role="admin")
        for name, password, role, expires_at in accounts:
            if role != "worker":
                await stores.accounts.add(
                    name, hash_password(password), cli, role=role, expires_at=expires_at
                )
        for uid, name, card, _room in PEOPLE:
            await stores.lifecycle.add_person(uid, name, cli)
            if card:
                await stores.lifecycle.assign_card(card, uid, cli)
        # A worker's account is named after its person here, its password already its own.
        for name, password, role, _expires_at in accounts:
            if role == "worker":
                await stores.accounts.add_worker(name, name, hash_password(password), cli)
                await stores.accounts.set_password(name, hash_password(password), cli)
        local = now.astimezone(ZONE)
        start = (local - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        end = (local + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        rows = [
            TimetableEntry(uid, start.isoweekday(), start.time(), end.time(), room)
            for uid, _name, _card, room in SCHEDULED
        ]
        # Past weekdays of a normal morning, for the month report.
        for uid, _name, _card, room in SCHEDULED[:4]:
            for weekday in range(1, 6):
                if weekday != start.isoweekday():
                    rows.append(
                        TimetableEntry(
                            uid,
                            weekday,
                            datetime.strptime("08:00", "%H:%M").time(),
                            datetime.strptime("14:00", "%H:%M").time(),
                            room,
                        )
                    )
        await stores.timetable.replace_timetable(rows)
        events = [
            _event(uid, card, "in", now - timedelta(minutes=7 * (i + 2)))
            for i, (uid, _n, card, _r) in enumerate(PEOPLE)
            if uid in ALREADY_IN and card
        ]
        day = local.date()
        for back in range(1, history_days + 1):
            past = day - timedelta(days=back)
            if past.month != day.month or past.isoweekday() > 5:
                continue
            for k, (uid, _n, card, _r) in enumerate(SCHEDULED[:4]):
                assert card
                jitter = (back * 7 + k * 5) % 13  # minutes: no two mornings alike
                late = 25 if (back + k) % 9 == 0 else 0
                # On today's weekday the timetable is the slot around now.
                same = past.isoweekday() == start.isoweekday()
                begin = start.time() if same else datetime.strptime("08:00", "%H:%M").time()
                finish = end.time() if same else datetime.strptime("14:00", "%H:%M").time()
                arrive = datetime.combine(past, begin, tzinfo=ZONE) - timedelta(minutes=15)
                arrive += timedelta(minutes=jitter + late)
                leave = datetime.combine(past, finish, tzinfo=ZONE) + timedelta(minutes=jitter)
                events.append(_event(uid, card, "in", arrive.astimezone(UTC)))
                if not (uid == "luis.nunez" and back == 2):  # one forgotten clock-out
                    events.append(_event(uid, card, "out", leave.astimezone(UTC)))
        await stores.swipes.record_events(events)
    finally:
        await stores.close()


@dataclass
class WebProcess:
    config: Path
    port: int
    proc: subprocess.Popen[str] | None = None
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    open_files: int | None = None  # RLIMIT_NOFILE (soft and hard) for the process
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> WebProcess:
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
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            cwd=REPO_ROOT,
            preexec_fn=None if self.open_files is None else self._limit_open_files,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line.startswith("serving "):
                return self
        raise TimeoutError("clock-gateway web did not start:\n" + "\n".join(self.log[-20:]))

    def _limit_open_files(self) -> None:
        import resource

        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def _collect(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


@dataclass
class Stack:
    url: str
    tmp: Path
    daemon: DaemonProcess
    web: WebProcess
    entrance: PtyReader
    exit: PtyReader

    def tap(self, reader: PtyReader, card: str) -> Any:
        return reader.swipe(bytes.fromhex(card), timeout=10)

    def close(self) -> None:
        self.web.stop()
        with contextlib.suppress(Exception):
            self.daemon.stop(15)
        self.daemon.kill()
        self.entrance.unplug()
        self.exit.unplug()


def start_stack(
    url: str,
    tmp: Path,
    *,
    history_days: int = 31,
    extra: str = "",
    web_only: bool = False,
    web: Mapping[str, Any] | None = None,
    accounts: Sequence[Account] = (),
) -> Stack:
    """`web`: the [web] section's keys (the board shows names unless it says otherwise);
    `accounts`: more accounts than the admin, as (name, password, role, expires_at)."""
    now = datetime.now(UTC)
    asyncio.run(_seed(url, now, history_days, accounts))
    section = {"board": "names", **(web or {})}
    extra = "\n[web]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in section.items()) + extra
    entrance = PtyReader(tmp, "entrance", Role.IN).plug()
    exit_ = PtyReader(tmp, "exit", Role.OUT).plug()
    config = write_config(
        tmp / "config.toml",
        database_url=url,
        state_dir=tmp / "state",
        readers=[("entrance", entrance.port, "in"), ("exit", exit_.port, "out")],
        gateway={"timezone": "Europe/Madrid", "duplicate_window_s": 0.5},
        messages={"locale": "es"},
        extra=extra,
    )
    daemon = DaemonProcess(config)
    web = WebProcess(config, free_port())
    try:
        if not web_only:
            daemon.start()
            daemon.wait_ready(30)
            entrance.wait_online(15)
            exit_.wait_online(15)
        web.start()
    except BaseException:
        web.stop()
        daemon.kill()
        entrance.unplug()
        exit_.unplug()
        raise
    return Stack(url, tmp, daemon, web, entrance, exit_)


def json_of(text: str) -> Any:
    return json.loads(text)
