"""The Recorder: the daemon's EventSink, keeping every acknowledged swipe.

Where an event goes:

- the database, through a group-commit writer (group_writer.py): swipes from all
  readers that arrive while a transaction runs are written together in the next one,
  and that one transaction also looks their cards up, so that a revoked card is
  refused at once while the database answers. The caller waits at most
  `database.wait_s`;
- the local spool (fsync'd) when the database fails or does not answer in time, and
  also whenever the spool still holds events, so that a reader's events reach the
  database in the order they were made;
- nowhere, with StoreUnavailableError, when neither can take it: the reader is told
  KO, never a false OK.

The drainer (drainer.py) replays the spool; the refresher (refresher.py) keeps the
last-known card directory, which answers when the database does not answer within
the wait: a known card's event is spooled, an unknown card waits in memory for the
enrolment list. While a backlog is being replayed, a swipe's card is looked up in the
database on its own and its event spooled.

The recorder owns the drainer's wake-up (an asyncio.Event): the spool calls it after
each durable append, and every database failure sets it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from gateway.config import Config
from gateway.domain import (
    CardLookup,
    ClockEvent,
    Durability,
    Person,
    StoreUnavailableError,
    SwipeStored,
    UnknownSwipe,
)
from gateway.durable.directory import CardDirectory
from gateway.durable.spool import Spool
from gateway.logs import get_logger
from gateway.recording.drainer import Drainer
from gateway.recording.group_writer import GroupWriter
from gateway.recording.refresher import DirectoryRefresher
from gateway.recording.storage import DatabaseHealth, SwipeStorage, is_permanent

log = get_logger("recorder")

T = TypeVar("T")


@dataclass(frozen=True)
class RecorderStats:
    spool_depth: int
    spool_max: int
    dead_letters: int
    last_db_write_at: datetime | None
    directory_age_s: float | None
    directory_cards: int
    database_ok: bool
    unknown_pending: int
    spool_writable: bool = True
    spool_oldest_at: datetime | None = None  # the oldest spooled event's receipt, if known
    spool_replayed: int = 0  # events replayed from the spool since the start
    spool_error: str | None = None  # the spool cannot take appends: why


class Recorder:
    """EventSink over a SwipeStorage, a Spool and a CardDirectory (see module docstring)."""

    def __init__(self, storage: SwipeStorage, state_dir: Path, config: Config) -> None:
        self._storage = storage
        self._wait_s = config.database.wait_s
        self._wake = asyncio.Event()
        self._health = DatabaseHealth(self._wait_s, on_failure=self._wake.set)
        self.spool = Spool(
            state_dir / "spool",
            max_events=config.spool.max_events,
            warn_ratio=config.spool.warn_ratio,
            on_durable=self._wake.set,
            gateway_id=config.gateway_id,
        )
        self.directory = CardDirectory(state_dir)
        self._drainer = Drainer(storage, self.spool, self._health, self._wake)
        self._refresher = DirectoryRefresher(
            storage, self.directory, self._health, config.database.directory_refresh_s
        )
        # Two group-commit writers: swipes (lookup and insert in one transaction) and,
        # for the rarer two-step path, events of already known holders.
        self._swipes = GroupWriter[ClockEvent, Person | None](
            storage.record_swipes, lanes=storage.swipe_lanes
        )
        self._events = GroupWriter[ClockEvent, bool](storage.record_events)
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._started = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Recover the spool, load the directory; never fails because the database is down."""
        await self.spool.open()
        await self.directory.load()
        self._started = True  # the first refresh runs in the background: a slow database
        # must not hold up the start (the saved directory answers meanwhile)
        self._tasks = [
            asyncio.create_task(self._drainer.run(), name="recorder-drainer"),
            asyncio.create_task(self._refresher.run(), name="recorder-directory"),
        ]
        log.info(
            "recorder_started",
            spool_depth=self.spool.depth,
            directory_cards=len(self.directory),
            database_ok=self._health.ok,
        )

    async def stop(self) -> None:
        """Stop the tasks and flush; events still in the spool are replayed next start."""
        self._started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            async with asyncio.timeout(self._wait_s):
                await self._swipes.wait_idle()
                await self._events.wait_idle()
        except TimeoutError:
            # Said, not hidden: those writes go on without us (a late commit is
            # harmless, and each of their swipes was answered from the spool or KO).
            log.warning("recorder_writes_still_running", timeout_s=self._wait_s)
        for task in list(self._background):
            task.cancel()  # lookups or writes nobody waits for any more
        await self.spool.close()
        log.info("recorder_stopped", spool_depth=self.spool.depth)

    # -- EventSink -------------------------------------------------------------------
    async def record_swipe(self, swipe: ClockEvent) -> SwipeStored:
        """The swipe path: one group-committed transaction looks the card up and stores
        the event; the directory answers only when the database does not."""
        if not self._started:
            raise StoreUnavailableError("the recorder is not running", "not_running")
        await self._wait_handover()
        if self._health.ok and self.spool.depth == 0:
            try:
                person = await self._answer(self._swipes.submit(swipe))
            except Exception as exc:
                if is_permanent(exc):
                    # Refused data (rare): the two-step path below deals with it as
                    # it always did (a bad card key is an error, a refused event is
                    # spooled and dead-lettered).
                    return await self._record_in_steps(swipe)
                self._health.failed("record", exc)
            else:
                self._health.wrote(self.spool.depth)
                self.directory.remember(swipe.card_key, person)
                return SwipeStored(person, None if person is None else Durability.DATABASE)
        elif self._health.ok:
            # A backlog: the event queues behind it in the spool (the reader's order
            # holds), but the card is still checked in the database while it answers.
            return await self._record_in_steps(swipe)
        person = self.directory.get(swipe.card_key)
        if person is None:
            await self.record_unknown(swipe.unknown())
            return SwipeStored(None, None, from_cache=True)
        await self.spool.append(swipe.with_person(person.uid))  # SpoolError: logged there
        return SwipeStored(person, Durability.SPOOL, from_cache=True)

    async def _record_in_steps(self, swipe: ClockEvent) -> SwipeStored:
        lookup = await self.lookup_card(swipe.card_key)
        if lookup.person is None or not lookup.person.active:
            await self.record_unknown(swipe.unknown())
            return SwipeStored(None, None, lookup.from_cache)
        durability = await self.record_event(swipe.with_person(lookup.person.uid))
        return SwipeStored(lookup.person, durability, lookup.from_cache)

    async def lookup_card(self, card_key: str) -> CardLookup:
        """The card's holder on its own (a transaction of its own); the directory's
        answer when the database does not answer in time."""
        if self._health.ok:
            try:
                person = await self._bounded(self._storage.find_person_by_card(card_key))
            except Exception as exc:
                if is_permanent(exc):
                    raise
                self._health.failed("lookup", exc)
            else:
                self.directory.remember(card_key, person)
                return CardLookup(person)
        person = self.directory.get(card_key)
        log.debug("card_from_directory", card=card_key, known=person is not None)
        return CardLookup(person, from_cache=True)

    async def record_event(self, event: ClockEvent) -> Durability:
        """Make one event of a known holder durable: the database, or the spool."""
        if not self._started:
            raise StoreUnavailableError("the recorder is not running", "not_running")
        await self._wait_handover()
        # With a backlog, the event queues behind it so that the reader's order holds.
        if self._health.ok and self.spool.depth == 0:
            try:
                await self._answer(self._events.submit(event))
            except Exception as exc:
                if is_permanent(exc):
                    # Kept locally; the drainer moves it to the dead-letter file.
                    log.error("event_refused", event_key=str(event.event_key), error=str(exc))
                else:
                    self._health.failed("record", exc)
            else:
                self._health.wrote(self.spool.depth)
                return Durability.DATABASE
        await self.spool.append(event)  # SpoolError: logged by the spool, with the reason
        return Durability.SPOOL

    async def _wait_handover(self) -> None:
        handover = self._drainer.handover
        if handover is not None and self._health.ok:
            # The drainer is replaying the last of the backlog: a short wait here lets
            # this event go to the database instead of chasing the drainer's tail.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._wait_s / 2):
                    await asyncio.shield(handover)

    async def record_unknown(self, swipe: UnknownSwipe) -> None:
        if self._health.ok:
            try:
                await self._bounded(self._storage.record_unknown(swipe))
                return
            except Exception as exc:
                if is_permanent(exc):
                    log.warning("unknown_swipe_refused", card=swipe.card_key, error=str(exc))
                    return
                self._health.failed("unknown", exc)
        self._drainer.defer_unknown(swipe)

    def stats(self) -> RecorderStats:
        return RecorderStats(
            spool_depth=self.spool.depth,
            spool_max=self.spool.max_events,
            dead_letters=self.spool.dead_letters,
            last_db_write_at=self._health.last_write_at,
            directory_age_s=self.directory.age_s(),
            directory_cards=len(self.directory),
            database_ok=self._health.ok,
            unknown_pending=self._drainer.unknown_pending,
            spool_writable=self.spool.writable,
            spool_oldest_at=self._drainer.oldest_at,
            spool_replayed=self._drainer.replayed,
            spool_error=self.spool.error,
        )

    def cards_changed(self, reason: str) -> None:
        """The database says cards or people changed: refresh the directory soon."""
        self._refresher.poke(reason)

    # -- database state --------------------------------------------------------------
    async def _answer(self, answer: asyncio.Future[T]) -> T:
        """A group writer's answer, waited for at most wait_s.

        No shield and no task of its own: the write runs in the writer's lane task,
        which a timeout here does not touch; it only cancels this answer, which the
        writer then leaves alone (a late commit is harmless). One hand-over fewer per
        swipe than _bounded.
        """
        async with asyncio.timeout(self._wait_s):
            return await answer

    async def _bounded(self, work: Awaitable[T]) -> T:
        """Wait at most wait_s; the work itself goes on (a late commit is harmless)."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(_forget(self._background))
        async with asyncio.timeout(self._wait_s):
            return await asyncio.shield(task)


def _forget(tasks: set[asyncio.Task[Any]]) -> Any:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # mark retrieved: a late failure is expected, not a bug

    return done
