"""The clocking service over the real Recorder (and its spool) and an in-memory storage
(tests/support/storage.py): the service's promises need no database. The same path
through the real daemon, readers and databases is in tests/e2e."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.clocking import ClockingService, Messages, ReplyOutcome
from gateway.config import parse_config
from gateway.domain import (
    ClockEvent,
    Direction,
    Durability,
    IncomingSwipe,
    Person,
    StoreUnavailableError,
    SwipeStored,
    event_key_for,
)
from gateway.protocol import Status
from gateway.recording.recorder import Recorder
from tests.support.storage import MemoryStorage

HW = bytes.fromhex("0102030405060708")
ANA = bytes.fromhex("04A1B2C3")
NOBODY = bytes.fromhex("0411223344556677889900")[:7]


class Env:
    def __init__(self, service: ClockingService, storage: MemoryStorage) -> None:
        self.service = service
        self.storage = storage
        self.t = 1000.0
        self.seq = 0

    def now(self) -> float:
        return self.t

    def swipe(
        self,
        uid: bytes = ANA,
        *,
        reader: str = "entrance",
        direction: Direction = Direction.IN,
        seq: int | None = None,
    ) -> IncomingSwipe:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return IncomingSwipe(reader, direction, HW, 7, seq, uid, datetime.now(UTC))

    def events(self) -> list[tuple[object, ...]]:
        """(event_key, person_uid, direction, reader, outcome) of each stored event, in
        the order stored."""
        return [
            (e.event_key, e.person_uid, e.direction, e.reader, e.outcome)
            for e in self.storage.events
        ]


@contextlib.asynccontextmanager
async def environment(tmp_path: Path, locale: str = "en") -> AsyncIterator[Env]:
    config = parse_config(
        {
            "gateway": {"state_dir": str(tmp_path / "state")},
            # Never opened: the storage is the Recorder's only way to a database.
            "database": {"url": "sqlite:///unused.db"},
        },
        "test",
    )
    storage = MemoryStorage({"04A1B2C3": Person("ana", "Ana Núñez")})
    recorder = Recorder(storage, config.state_dir, config)
    await recorder.start()
    env = Env(ClockingService(recorder, Messages(locale), 5.0), storage)
    env.service._now = env.now
    try:
        yield env
    finally:
        try:
            async with asyncio.timeout(10):
                await recorder.stop()
        except TimeoutError:
            pytest.fail("Recorder.stop() did not return within 10 s")


def scenario(tmp_path: Path, body: Callable[[Env], Awaitable[None]], locale: str = "en") -> None:
    async def go() -> None:
        async with environment(tmp_path, locale) as env:
            await body(env)

    asyncio.run(go())


def test_known_card_is_recorded_then_answered_ok(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        swipe = env.swipe()
        reply = await env.service.handle(swipe)
        assert (reply.status, reply.text, reply.outcome) == (
            Status.OK,
            "In - Ana Nunez",
            ReplyOutcome.RECORDED,
        )
        assert reply.person_uid == "ana" and reply.durability is Durability.DATABASE
        key = event_key_for(HW, 7, swipe.seq, "04A1B2C3")
        assert env.events() == [(key, "ana", "in", "entrance", "recorded")]

    scenario(tmp_path, body)


def test_direction_comes_from_the_reader_and_spanish_texts(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        reply = await env.service.handle(env.swipe(reader="exit", direction=Direction.OUT))
        assert reply.text == "Salida -\nAna Nunez"
        assert [(e[2], e[3]) for e in env.events()] == [("out", "exit")]

    scenario(tmp_path, body, locale="es")


def test_unknown_card_is_ko_and_goes_to_the_enrolment_list(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        reply = await env.service.handle(env.swipe(NOBODY))
        assert reply.status is Status.KO and reply.outcome is ReplyOutcome.UNKNOWN_CARD
        assert reply.text == "Unknown card\n04112233445566"
        assert list(env.storage.unknown.items()) == [("04112233445566", 1)]
        assert len(env.events()) == 0

    scenario(tmp_path, body)


def test_duplicate_window_per_card_and_reader(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        assert (await env.service.handle(env.swipe())).outcome is ReplyOutcome.RECORDED
        env.t += 3.0
        dup = await env.service.handle(env.swipe())
        assert (dup.status, dup.outcome, dup.text) == (
            Status.OK,
            ReplyOutcome.DUPLICATE,
            "Already recorded\nAna Nunez",
        )
        other = await env.service.handle(env.swipe(reader="exit", direction=Direction.OUT))
        assert other.outcome is ReplyOutcome.RECORDED
        env.t += 2.5  # 5.5 s after the counted tap: the duplicate did not extend the window
        assert (await env.service.handle(env.swipe())).outcome is ReplyOutcome.RECORDED
        assert [(e[3], e[4]) for e in env.events()] == [
            ("entrance", "recorded"),
            ("entrance", "duplicate"),
            ("exit", "recorded"),
            ("entrance", "recorded"),
        ]

    scenario(tmp_path, body)


def test_same_session_and_seq_is_stored_once(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        first = await env.service.handle(env.swipe(seq=42))
        env.t += 60  # e.g. a gateway restart lost the retransmission cache
        second = await env.service.handle(env.swipe(seq=42))
        assert first.status is second.status is Status.OK
        assert len(env.events()) == 1

    scenario(tmp_path, body)


class BrokenSink:
    """Storage that fails the way a dead disk or a bug would: cannot be staged for real."""

    def __init__(self, error: Exception, *, lookup_fails: bool = False) -> None:
        self.error = error
        self.lookup_fails = lookup_fails

    async def record_swipe(self, swipe: ClockEvent) -> SwipeStored:
        raise self.error


@pytest.mark.parametrize(
    ("reason", "locale", "text"),
    [
        ("spool_full", "en", "NOT recorded\nStorage is full"),
        ("spool_full", "es", "NO registrado\nAlmacen lleno"),
        ("disk_full", "en", "NOT recorded\nDisk is full"),
        ("disk_full", "es", "NO registrado\nDisco lleno"),
        ("read_only", "en", "NOT recorded\nDisk error"),
        ("io_error", "es", "NO registrado\nError de disco"),
        ("not_running", "en", "NOT recorded\nTry again"),
        ("internal", "es", "NO registrado\nReintente"),
    ],
)
def test_store_unavailable_is_ko_never_ok_with_its_reason(
    reason: str, locale: str, text: str
) -> None:
    error = StoreUnavailableError("cannot store", reason)
    service = ClockingService(BrokenSink(error), Messages(locale), 5.0)
    swipe = IncomingSwipe("entrance", Direction.IN, HW, 1, 1, ANA, datetime.now(UTC))
    reply = asyncio.run(service.handle(swipe))
    assert (reply.status, reply.outcome) == (Status.KO, ReplyOutcome.STORE_UNAVAILABLE)
    assert reply.text == text


def test_any_internal_failure_is_ko_with_the_error_text() -> None:
    service = ClockingService(BrokenSink(RuntimeError("bug"), lookup_fails=True), Messages("es"), 5)
    swipe = IncomingSwipe("exit", Direction.OUT, HW, 1, 1, ANA, datetime.now(UTC))
    reply = asyncio.run(service.handle(swipe))
    assert (reply.status, reply.outcome, reply.text) == (
        Status.KO,
        ReplyOutcome.ERROR,
        "Error en la\nsalida",
    )
