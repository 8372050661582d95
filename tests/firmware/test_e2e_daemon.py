"""End to end: the real firmware (simulated) <-> the real daemon <-> real PostgreSQL.

Card tap on the simulated MFRC522 -> SWIPE from the compiled firmware over the
simulator's PTY -> `python -m gateway run` -> rows in PostgreSQL -> RESULT ->
text on the simulated HD44780. Nothing in between is a test double.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bench.kit.harness import DaemonProcess, seed, write_config
from tests.firmware.simharness import Sim

pytestmark = [pytest.mark.firmware, pytest.mark.e2e, pytest.mark.postgres]

ANA = "04A1B2C3"
BEA = "04112233445566"
NOBODY = "DEADBEEF"


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


class Rig:
    def __init__(self, tmp: Path, url: str, locale: str = "en") -> None:
        seed(url, [("ana", "Ana Núñez", ANA), ("bea", "Bea", BEA)])
        self.url = url
        self.entrance = Sim(tmp / "entrance", role="in", seed=1)
        self.exit = Sim(tmp / "exit", role="out", seed=2)
        self.config = write_config(
            tmp / "config.toml",
            database_url=url,
            state_dir=tmp / "state",
            readers=[("entrance", self.entrance.pty, "in"), ("exit", self.exit.pty, "out")],
            messages={"locale": locale},
        )
        self.daemon = DaemonProcess(self.config).start()
        self.daemon.wait_ready()

    def restart_daemon(self, kill: bool = False) -> None:
        if kill:
            self.daemon.kill()
        else:
            assert self.daemon.stop() == 0
        self.daemon = DaemonProcess(self.config).start()
        self.daemon.wait_ready()

    def close(self) -> None:
        try:
            if self.daemon.proc is not None and self.daemon.proc.poll() is None:
                assert self.daemon.stop() == 0
        finally:
            self.entrance.close()
            self.exit.close()


@pytest.fixture
def rig(firmware: None, tmp_path: Path, pg_url: str) -> Iterator[Rig]:
    for d in ("entrance", "exit"):
        (tmp_path / d).mkdir()
    r = Rig(tmp_path, pg_url)
    try:
        yield r
    finally:
        r.close()


def test_known_card_clocks_in_and_greets_on_the_lcd(rig: Rig) -> None:
    rig.entrance.wait_lcd("Clock in", "Tap your card", timeout=15)
    rig.exit.wait_lcd("Clock out", "Tap your card", timeout=15)
    m = rig.entrance.mark()
    tap = rig.entrance.card(ANA)
    shown = rig.entrance.wait_lcd("In - Ana Nunez", since=m)
    print(f"\ntap-to-LCD latency through the real daemon and PostgreSQL: {shown.t - tap.t:.1f} ms")
    assert ("green", "1") in [e.args for e in rig.entrance.of_kind("LED", m)]
    got = rows(rig.url, "SELECT person_uid, direction, reader, outcome FROM clock_events")
    assert got == [("ana", "in", "entrance", "recorded")]
    # The exit reader: a 7-byte UID.
    m = rig.exit.mark()
    rig.exit.card(BEA)
    rig.exit.wait_lcd("Out - Bea", since=m)
    got = rows(rig.url, "SELECT person_uid, direction, reader FROM clock_events ORDER BY id")
    assert got == [("ana", "in", "entrance"), ("bea", "out", "exit")]


def test_unknown_card_is_ko_on_the_lcd_and_listed(rig: Rig) -> None:
    rig.entrance.wait_lcd("Clock in", timeout=15)
    m = rig.entrance.mark()
    rig.entrance.card(NOBODY)
    rig.entrance.wait_lcd("Unknown card", NOBODY, since=m)
    assert ("red", "1") in [e.args for e in rig.entrance.of_kind("LED", m)]
    assert rows(rig.url, "SELECT card_key, count, last_reader FROM unknown_swipes") == [
        (NOBODY, 1, "entrance")
    ]
    assert rows(rig.url, "SELECT count(*) FROM clock_events") == [(0,)]


def test_held_card_gives_one_event(rig: Rig) -> None:
    rig.entrance.wait_lcd("Clock in", timeout=15)
    m = rig.entrance.mark()
    rig.entrance.card(ANA)
    rig.entrance.wait_lcd("In - Ana Nunez", since=m)
    time.sleep(4.0)  # still on the reader, past the result screen
    rig.entrance.wait_lcd("Clock in", since=m)
    assert rows(rig.url, "SELECT count(*) FROM clock_events") == [(1,)]
    assert len(rig.daemon.find("swipe", reader="entrance")) == 1


def test_daemon_restart_and_crash_the_firmware_reconnects(rig: Rig) -> None:
    rig.entrance.wait_lcd("Clock in", timeout=15)
    hellos_before = len(rig.daemon.find("link_up", reader="entrance"))
    assert hellos_before >= 1
    # A clean stop: the reader notices the silence and shows "offline".
    m = rig.entrance.mark()
    assert rig.daemon.stop() == 0
    rig.entrance.wait_lcd("Offline", "Waiting for PC", since=m, timeout=8)
    rig.daemon = DaemonProcess(rig.config).start()
    rig.daemon.wait_ready()
    rig.entrance.wait_lcd("Clock in", since=m, timeout=10)
    rig.daemon.wait_event("link_up", reader="entrance", timeout=10)
    # A crash and a quick restart (before the reader notices): the new daemon
    # answers the reader's next frame with NAK NOT_READY, the reader says
    # HELLO again, and a tap goes through.
    rig.restart_daemon(kill=True)
    rig.daemon.wait_event("link_up", reader="entrance", timeout=10)
    m = rig.entrance.mark()
    rig.entrance.card(ANA)
    rig.entrance.wait_lcd("In - Ana Nunez", since=m, timeout=10)
    assert rows(rig.url, "SELECT person_uid, outcome FROM clock_events") == [("ana", "recorded")]


def test_garbage_both_ways_is_survived(rig: Rig) -> None:
    rig.entrance.wait_lcd("Clock in", timeout=15)
    mark = rig.daemon.mark()
    rig.entrance.command("hostnoise 600")  # reader -> daemon
    rig.entrance.command("noise 600")  # daemon -> reader
    time.sleep(1.0)
    rig.daemon.wait_event("bad_frame", reader="entrance", after=mark)
    m = rig.entrance.mark()
    rig.entrance.card(ANA)
    rig.entrance.wait_lcd("In - Ana Nunez", since=m, timeout=10)
    assert rows(rig.url, "SELECT count(*) FROM clock_events") == [(1,)]


def test_spanish_locale(firmware: None, tmp_path: Path, pg_url: str) -> None:
    for d in ("entrance", "exit"):
        (tmp_path / d).mkdir()
    r = Rig(tmp_path, pg_url, locale="es")
    try:
        r.entrance.wait_lcd("Entrada", "Pase su tarjeta", timeout=15)
        r.exit.wait_lcd("Salida", "Pase su tarjeta", timeout=15)
        m = r.entrance.mark()
        r.entrance.card(ANA)
        # "Entrada - Ana Nunez" is 19 characters: the gateway keeps the name
        # whole on row 2.
        r.entrance.wait_lcd("Entrada -", "Ana Nunez", since=m)
        m = r.exit.mark()
        r.exit.card(BEA)
        r.exit.wait_lcd("Salida - Bea", since=m)
    finally:
        r.close()
