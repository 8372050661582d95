"""The exit reader tells the worker their day (issue 22 item 8), through the daemon as
a real subprocess with both readers on PTYs: the day tally is warmed at start from the
database (taps stored before the daemon started count), a clock-out after a clock-in
shows the day's net time on the LCD's second line, and `show_day_total = false` turns
it off (SIGHUP reload)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.kit.harness import DaemonProcess, PtyReader, seed, write_config
from gateway.domain import ClockEvent, Direction, Outcome
from gateway.protocol import Role, Status

pytestmark = pytest.mark.e2e

PEOPLE = [("eva", "Eva", "04E1E2E3"), ("noe", "Noé Sáez", "04A0A0A1"), ("cid", "Cid", "04C1D1E1")]
CARD = {uid: bytes.fromhex(card) for uid, _, card in PEOPLE}


@dataclass
class Rig:
    daemon: DaemonProcess
    entrance: PtyReader
    exit: PtyReader
    config: Path


def _stored(uid: str, direction: str, at: datetime) -> ClockEvent:
    return ClockEvent(
        event_key=uuid.uuid4(),
        person_uid=uid,
        card_key=dict((u, c) for u, _, c in PEOPLE)[uid],
        direction=Direction(direction),
        reader="entrance" if direction == "in" else "exit",
        reader_hw_id=None,
        received_at=at,
        outcome=Outcome.RECORDED,
    )


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    from gateway.store.stores import Stores

    tmp = tmp_path_factory.mktemp("day-total")
    url = f"sqlite:///{tmp / 'gateway.db'}"
    seed(url, PEOPLE)
    # Eva worked 2 h this morning (8 minutes to spare before any hour turns), before
    # the daemon started: the tally must learn it from its one query at start.
    now = datetime.now(UTC)
    morning = [("in", now - timedelta(hours=3)), ("out", now - timedelta(hours=1))]

    async def stored_before() -> None:
        stores = Stores.open(url)
        try:
            await stores.swipes.record_events([_stored("eva", d, at) for d, at in morning])
        finally:
            await stores.close()

    asyncio.run(stored_before())
    entrance = PtyReader(tmp, "entrance", Role.IN).plug()
    exit_ = PtyReader(tmp, "exit", Role.OUT).plug()
    cfg = write_config(
        tmp / "config.toml",
        database_url=url,
        state_dir=tmp / "state",
        readers=[("entrance", entrance.port, "in"), ("exit", exit_.port, "out")],
        gateway={"duplicate_window_s": 0.5},
        messages={"locale": "es"},
    )
    with DaemonProcess(cfg) as daemon:
        daemon.wait_ready(60)
        warmed = daemon.wait_event("day_tally_warmed", 5)
        assert warmed["events"] == 2 and warmed["people"] == 1, warmed
        entrance.wait_online(15)
        exit_.wait_online(15)
        yield Rig(daemon, entrance, exit_, cfg)
        assert daemon.stop() == 0
    entrance.close()
    exit_.close()


def test_a_clock_out_after_a_clock_in_shows_the_day_total(rig: Rig) -> None:
    came = rig.entrance.swipe(CARD["eva"], timeout=15)
    assert (came.status, came.text) == (Status.OK, "Entrada - Eva")
    left = rig.exit.swipe(CARD["eva"], timeout=15)
    # 2:00 from before the start, and the seconds just now (under a minute).
    assert (left.status, left.text) == (Status.OK, "Salida - Eva\nHoy 2:00")


def test_a_first_clock_out_of_the_day_for_someone_new(rig: Rig) -> None:
    assert rig.entrance.swipe(CARD["noe"], timeout=15).status == Status.OK
    left = rig.exit.swipe(CARD["noe"], timeout=15)
    # "Salida - Noe Saez" is 17 characters: the name alone on line 1.
    assert (left.status, left.text) == (Status.OK, "Noe Saez\nHoy 0:00")


def test_configured_off_by_a_reload(rig: Rig) -> None:
    text = rig.config.read_text().replace("[messages]\n", "[messages]\nshow_day_total = false\n")
    rig.config.write_text(text)
    mark = len(rig.daemon.events)
    rig.daemon.signal(signal.SIGHUP)
    rig.daemon.wait_event("config_reloaded", 15, after=mark)
    # Someone else: the taps above are milliseconds old, inside the duplicate window.
    assert rig.entrance.swipe(CARD["cid"], timeout=15).status == Status.OK
    left = rig.exit.swipe(CARD["cid"], timeout=15)
    assert (left.status, left.text) == (Status.OK, "Salida - Cid")
