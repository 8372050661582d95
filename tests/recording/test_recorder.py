"""The Recorder's routes over an in-memory storage (no database) and a real spool.

Each route and each of its fallbacks, told by what a swipe's caller gets back and by
what the storage ends up holding. The same Recorder over the real stores, a real
outage and real locks is in tests/reliability/test_recorder.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from gateway.config import parse_config
from gateway.domain import ClockEvent, Direction, Durability, Person, StoreUnavailableError
from gateway.errors import DatabaseUnavailableError, InvalidInputError
from gateway.recording import recorder as recorder_module
from gateway.recording.recorder import Recorder
from gateway.recording.route import Route
from tests.support.storage import MemoryStorage
from tests.support.wait import described, wait_until_async

ANA = Person("ana", "Ana")
CARD, NOBODY = "04A1B2C3", "DEADBEEF"
WAIT_S = 0.3
_T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def swipe(n: int, card: str = CARD, person: str | None = None) -> ClockEvent:
    """The n-th swipe at the entrance: distinct key, increasing time; a spooled event
    names its person, a swipe does not (the Recorder finds the holder)."""
    return ClockEvent(
        event_key=uuid.uuid5(uuid.NAMESPACE_OID, f"entrance/{card}/{n}"),
        person_uid=person,
        card_key=card,
        direction=Direction.IN,
        reader="entrance",
        reader_hw_id="0102030405060708",
        received_at=_T0 + timedelta(milliseconds=n),
    )


async def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    await wait_until_async(predicate, timeout, described(predicate))


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, storage: MemoryStorage, **sections: dict[str, Any]
) -> AsyncIterator[Recorder]:
    data: dict[str, Any] = {
        "gateway": {"state_dir": str(tmp_path)},
        # The URL is never opened: the storage is the Recorder's only way to a database.
        "database": {"url": "sqlite:///unused.db", "wait_s": WAIT_S, "directory_refresh_s": 60},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    recorder = Recorder(storage, tmp_path, parse_config(data, "<test>"))
    await recorder.start()
    try:
        yield recorder
    finally:
        await recorder.stop()


class StuckReplay(MemoryStorage):
    """Its replays (record_events: only the drainer's) wait for `replay`, so that the
    spool keeps a backlog while the database answers everything else."""

    def __init__(self, holders: dict[str, Person]) -> None:
        super().__init__(holders)
        self.replay = asyncio.Event()

    async def record_events(self, events: Any) -> list[bool]:
        await self.replay.wait()
        return await super().record_events(events)


async def test_a_known_card_goes_to_the_database_in_one_transaction(tmp_path: Path) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        stored = await recorder.record_swipe(swipe(1))
        assert (stored.person, stored.durability, stored.from_cache) == (
            ANA,
            Durability.DATABASE,
            False,
        )
        assert storage.keys == [swipe(1).event_key]
        assert storage.events[0].person_uid == "ana"
        # The lookup and the insert were one transaction; no lookup of its own.
        assert storage.transactions["record_swipes"] == 1
        assert storage.transactions["find_person_by_card"] == 0
        stats = recorder.stats()
        assert stats.database_ok and stats.spool_depth == 0 and stats.last_db_write_at


async def test_concurrent_swipes_share_transactions(tmp_path: Path) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        results = await asyncio.gather(*(recorder.record_swipe(swipe(i)) for i in range(200)))
    assert {r.durability for r in results} == {Durability.DATABASE}
    assert sorted(storage.keys) == sorted(swipe(i).event_key for i in range(200))
    assert storage.transactions["record_swipes"] < 50


async def test_an_unknown_card_goes_on_the_enrolment_list(tmp_path: Path) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        stored = await recorder.record_swipe(swipe(1, NOBODY))
        assert (stored.person, stored.durability) == (None, None)
    assert storage.unknown == {NOBODY: 1} and storage.events == []


async def test_database_away_known_cards_spool_unknown_ones_wait_in_memory(
    tmp_path: Path,
) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        assert (await recorder.record_swipe(swipe(1))).durability is Durability.DATABASE
        storage.down = DatabaseUnavailableError("database unavailable: connection refused")
        with capture_logs() as logs:
            stored = await recorder.record_swipe(swipe(2))
        assert (stored.person, stored.durability, stored.from_cache) == (
            ANA,
            Durability.SPOOL,
            True,
        )
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["database_unavailable"]
        unknown = await recorder.record_swipe(swipe(3, NOBODY))
        assert (unknown.person, unknown.durability, unknown.from_cache) == (None, None, True)
        stats = recorder.stats()
        assert not stats.database_ok and stats.spool_depth == 1 and stats.unknown_pending == 1
        # While away, no swipe even tries the database: the spool answers at once.
        tries = storage.transactions["record_swipes"]
        assert (await recorder.record_swipe(swipe(4))).durability is Durability.SPOOL
        assert storage.transactions["record_swipes"] == tries

        storage.down = None  # back: the drainer's probe notices, then it replays
        await wait_for(lambda: recorder.stats().spool_depth == 0)
        await wait_for(lambda: recorder.stats().unknown_pending == 0)
        assert recorder.stats().database_ok
        assert (await recorder.record_swipe(swipe(5))).durability is Durability.DATABASE
    assert storage.keys == [swipe(i).event_key for i in (1, 2, 4, 5)]
    assert storage.unknown == {NOBODY: 1}


async def test_a_database_that_does_not_answer_is_answered_within_the_wait(
    tmp_path: Path,
) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        assert (await recorder.record_swipe(swipe(1))).durability is Durability.DATABASE
        storage.answering.clear()
        latencies = []
        for i in range(2, 6):
            started = time.monotonic()
            stored = await recorder.record_swipe(swipe(i))
            latencies.append(time.monotonic() - started)
            assert (stored.durability, stored.from_cache) == (Durability.SPOOL, True)
        assert max(latencies) < WAIT_S + 0.25  # the bounded wait, plus an fsync
        storage.answering.set()
        await wait_for(lambda: recorder.stats().spool_depth == 0)
    # The write that did not answer in time committed late, and its replay stored
    # nothing twice.
    assert storage.keys == [swipe(i).event_key for i in range(1, 6)]


async def test_behind_a_backlog_the_card_is_still_checked_in_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen: list[Route] = []
    choose = recorder_module.choose_route

    def counting(running: bool, database_ok: bool, backlog: int) -> Route:
        chosen.append(choose(running, database_ok, backlog))
        return chosen[-1]

    monkeypatch.setattr(recorder_module, "choose_route", counting)
    storage = StuckReplay({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        await recorder.spool.append(swipe(1, person="ana"))  # the backlog, its replay stuck
        stored = await recorder.record_swipe(swipe(2))
        assert (stored.person, stored.durability, stored.from_cache) == (
            ANA,
            Durability.SPOOL,
            False,
        )
        assert storage.transactions["find_person_by_card"] == 1
        storage.revoke(CARD)  # refused at once, backlog or not
        revoked = await recorder.record_swipe(swipe(3))
        assert (revoked.person, revoked.durability) == (None, None)
        assert storage.unknown == {CARD: 1}
        assert recorder.stats().spool_depth == 2 and recorder.stats().database_ok
        storage.assign(CARD, ANA)
        storage.replay.set()
        await wait_for(lambda: recorder.stats().spool_depth == 0)
        assert (await recorder.record_swipe(swipe(4))).durability is Durability.DATABASE
    # In the reader's order, the backlog first; nothing took the group writer's route
    # while the spool held events.
    assert storage.keys == [swipe(i).event_key for i in (1, 2, 4)]
    assert storage.transactions["record_swipes"] == 1
    # One choice per swipe, whichever route it took.
    assert chosen == [Route.SPOOL, Route.SPOOL, Route.DATABASE]


async def test_a_refused_swipe_is_kept_and_dead_lettered(tmp_path: Path) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        bad = replace(swipe(1), reader="entrance\x07")  # the store refuses the name
        with capture_logs() as logs:
            stored = await recorder.record_swipe(bad)
            # Kept locally (never a silent loss), dead-lettered by the drainer.
            assert (stored.person, stored.durability) == (ANA, Durability.SPOOL)
            # The count, the spool's depth and the log line change one after the other:
            # wait for all three (reading the depth right after the count raced).
            await wait_for(
                lambda: (
                    recorder.stats().dead_letters == 1
                    and recorder.stats().spool_depth == 0
                    and any(e["event"] == "spool_dead_letter" for e in logs)
                )
            )
        assert any(e["event"] == "event_refused" and e["log_level"] == "error" for e in logs)
        # A card key nobody could hold is an error for the caller (a KO with its text).
        with pytest.raises(InvalidInputError):
            await recorder.record_swipe(replace(swipe(2), card_key="nothex!!"))
        assert (await recorder.record_swipe(swipe(3))).durability is Durability.DATABASE
    assert storage.keys == [swipe(3).event_key]


async def test_not_running_is_ko(tmp_path: Path) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        pass
    with pytest.raises(StoreUnavailableError) as info:
        await recorder.record_swipe(swipe(1))
    assert info.value.reason == "not_running" and storage.events == []


# Moved from tests/reliability/test_recorder.py: they need no database.


async def test_no_database_and_full_spool_is_an_honest_refusal(tmp_path: Path) -> None:
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage, spool={"max_events": 3}) as recorder:
        await recorder.record_swipe(swipe(0))  # the card is known from here on
        storage.down = DatabaseUnavailableError("database unavailable: connection refused")
        for i in range(1, 4):
            assert (await recorder.record_swipe(swipe(i))).durability is Durability.SPOOL
        with capture_logs() as logs, pytest.raises(StoreUnavailableError):
            await recorder.record_swipe(swipe(4))
        assert any(e["event"] == "spool_full" for e in logs)


async def test_unusable_spool_directory_still_starts(tmp_path: Path) -> None:
    (tmp_path / "spool").write_text("a file where the spool directory should be")
    storage = MemoryStorage({CARD: ANA})
    with capture_logs() as logs:
        async with running(tmp_path, storage) as recorder:
            assert (await recorder.record_swipe(swipe(1))).durability is Durability.DATABASE
    assert any(e["event"] == "spool_unavailable" for e in logs)


async def test_an_append_whose_caller_gave_up_is_still_replayed(tmp_path: Path) -> None:
    """The spool tells the recorder's wake-up when records become durable, not the
    appender: an appender cancelled mid-fsync must not leave its record unreplayed."""
    storage = MemoryStorage({CARD: ANA})
    async with running(tmp_path, storage) as recorder:
        append = asyncio.ensure_future(recorder.spool.append(swipe(1, person="ana")))
        await asyncio.sleep(0)  # queued for the spool's writer thread
        append.cancel()
        await wait_for(lambda: recorder.stats().spool_depth == 0)
    assert storage.keys == [swipe(1).event_key]
