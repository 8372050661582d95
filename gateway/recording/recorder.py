"""The Recorder: the daemon's EventSink, keeping every acknowledged swipe.

Each swipe takes one of three routes, chosen once by route.choose_route from the
database's health, the spool's backlog and whether the Recorder runs:

- the database, through a group-commit writer (group_writer.py): swipes from all
  readers that arrive while a transaction runs are written together in the next one,
  and that one transaction also looks their cards up, so that a revoked card is
  refused at once while the database answers. The caller waits at most
  `database.wait_s`;
- the local spool (fsync'd) when the database is away, and also whenever the spool
  still holds events, so that a reader's events reach the database in the order they
  were made; a database route whose database fails or does not answer in time ends
  here too;
- nowhere, with StoreUnavailableError, when neither can take it: the reader is told
  KO, never a false OK.

On the spool route the card's holder comes from the database on its own while it
answers (a backlog is being replayed), else from the last-known card directory that
the refresher (refresher.py) keeps: a known card's event is spooled, an unknown card
waits in memory for the enrolment list. The drainer (drainer.py) replays the spool.

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

from gateway import trace
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
from gateway.recording.route import Route, choose_route
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
        # The group-commit writer of the database route: lookup and insert in one
        # transaction, the swipes of all readers together.
        self._swipes = GroupWriter[ClockEvent, Person | None](
            storage.record_swipes, lanes=storage.swipe_lanes
        )
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
        """The swipe path: its route chosen once (route.py), then followed here."""
        handover = self._drainer.handover
        if handover is not None and self._started and self._health.ok:
            # The drainer is replaying the last of the backlog: a short wait here lets
            # this event go to the database instead of chasing the drainer's tail.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._wait_s / 2):
                    await asyncio.shield(handover)
        route = choose_route(self._started, self._health.ok, self.spool.depth)
        refused: Exception | None = None
        if route is Route.DATABASE:
            if trace.ON:
                trace.stamp(str(swipe.event_key), "queued")
            try:
                person = await self._answer(self._swipes.submit(swipe))
            except Exception as exc:
                if is_permanent(exc):
                    # Refused data (rare): a bad card key is an error (the lookup
                    # below raises it again), a refused event is kept in the spool
                    # and dead-lettered by the drainer.
                    refused = exc
                else:
                    self._health.failed("record", exc)  # on to the spool, card from the directory
            else:
                self._health.wrote(self.spool.depth)
                self.directory.remember(swipe.card_key, person)
                return SwipeStored(person, None if person is None else Durability.DATABASE)
        elif route is Route.KO:
            raise StoreUnavailableError("the recorder is not running", "not_running")
        # The spool route: the card checked in the database while it answers, else in
        # the last-known directory.
        lookup = await self._holder(swipe.card_key)
        person = lookup.person
        if person is None or not person.active:
            await self._enrol(swipe.unknown())
            return SwipeStored(None, None, lookup.from_cache)
        if refused is not None:
            log.error("event_refused", event_key=str(swipe.event_key), error=str(refused))
        await self.spool.append(swipe.with_person(person.uid))  # SpoolError: logged there
        return SwipeStored(person, Durability.SPOOL, lookup.from_cache)

    async def _holder(self, card_key: str) -> CardLookup:
        """The card's holder from the database on its own (a transaction of its own) if
        it answers in time, else from the directory. A refused key raises."""
        if self._health.ok:
            try:
                person = await self._bounded(self._storage.find_person_by_card(card_key))
            except Exception as exc:
                if is_permanent(exc):
                    raise
                self._health.failed("lookup", exc)
                log.debug("card_from_directory", card=card_key)
            else:
                self.directory.remember(card_key, person)
                return CardLookup(person)
        return CardLookup(self.directory.get(card_key), from_cache=True)

    async def _enrol(self, swipe: UnknownSwipe) -> None:
        """An unknown card onto the enrolment list; while the database is away it
        waits in the drainer's memory (best effort, see Drainer.defer_unknown)."""
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
