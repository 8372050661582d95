"""The Recorder: the daemon's EventSink, keeping every acknowledged swipe.

Where an event goes:

- the database, through a group-commit writer: swipes from all readers that arrive
  while a transaction runs are written together in the next one, and that one
  transaction also looks their cards up (one SELECT, one multi-row INSERT, one
  COMMIT for the whole batch), so that a revoked card is refused at once while the
  database answers. The caller waits at most `database.wait_s`;
- the local spool (fsync'd) when the database fails or does not answer in time, and
  also whenever the spool still holds events, so that a reader's events reach the
  database in the order they were made;
- nowhere, with StoreUnavailableError, when neither can take it: the reader is told
  KO, never a false OK.

A drainer task replays the spool into the database in batches, in append order,
marking a batch done only after the database committed it; event keys make a replay
after a crash harmless. An event the database refuses for good goes to the spool's
dead-letter file with an error log event. When the database does not answer within
the wait, the card's holder comes from the last-known card directory (refreshed at
start and periodically, saved to disk): a known card's event is spooled, an unknown
card waits in memory for the enrolment list. While a backlog is being replayed, a
swipe's card is looked up in the database on its own and its event spooled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from gateway.config import Config
from gateway.domain import (
    CardLookup,
    ClockEvent,
    Durability,
    Person,
    StoreUnavailableError,
    SwipeRecord,
    SwipeStored,
    UnknownSwipe,
)
from gateway.errors import DatabaseUnavailableError, GatewayError
from gateway.logs import get_logger
from gateway.store.directory import CardDirectory
from gateway.store.spool import Spool, SpoolBatch, SpoolError, SpoolRecord


def log() -> Any:
    """The logger, bound at each use: a module-level one would miss configure_logging."""
    return get_logger("recorder")


DRAIN_BATCH = 500  # events per replay transaction
LIVE_BATCH = 200  # most events in one group commit
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 1.0  # a refused connection costs little: notice the return soon
UNKNOWN_KEPT = 1000  # unknown swipes kept in memory while the database is away
DIRECTORY_TIMEOUT_S = 30.0

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741  (an item queued for a group commit)
R = TypeVar("R")


class RecorderRepository(Protocol):
    """The part of gateway.store.swipes.SwipeStore the recorder uses."""

    async def check(self) -> int: ...
    async def find_person_by_card(self, card_key: str) -> Person | None: ...
    async def record_events(self, events: Sequence[ClockEvent]) -> list[bool]: ...
    async def record_swipes(self, swipes: Sequence[SwipeRecord]) -> list[Person | None]: ...
    async def record_unknown(self, swipe: UnknownSwipe) -> None: ...
    async def card_directory(self) -> dict[str, Person]: ...
    @property
    def swipe_lanes(self) -> int: ...


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


def is_permanent(error: BaseException) -> bool:
    """The database refused this data (replaying it again will not help)."""
    return isinstance(error, GatewayError) and not isinstance(error, DatabaseUnavailableError)


class _GroupWriter(Generic[I, R]):
    """Batches concurrent calls into few transactions: while `lanes` transactions run,
    the items of all readers queue for the next one to start. `write_batch` answers
    one result per item."""

    def __init__(
        self, write_batch: Callable[[list[I]], Awaitable[list[R]]], *, lanes: int = 1
    ) -> None:
        self._write_batch = write_batch
        self._lanes = max(1, lanes)
        self._queue: list[tuple[I, asyncio.Future[R]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, item: I) -> asyncio.Future[R]:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if len(self._tasks) < self._lanes:
            self._tasks.add(asyncio.create_task(self._run()))
        return future

    async def _run(self) -> None:
        try:
            while self._queue:
                batch = self._queue[:LIVE_BATCH]
                del self._queue[:LIVE_BATCH]
                await self._write(batch)
        finally:
            # At once, not in a done callback: a submit() before that callback ran
            # would count this lane as busy and leave its item in the queue.
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)

    async def _write(self, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            results = await self._write_batch([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1 and is_permanent(exc):
                # One bad item must not fail the others: write them one by one.
                for one in batch:
                    await self._write([one])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.shield(asyncio.gather(*self._tasks, return_exceptions=True))


class Recorder:
    """EventSink over a Repository, a Spool and a CardDirectory (see module docstring)."""

    def __init__(self, repository: RecorderRepository, state_dir: Path, config: Config) -> None:
        self._repo = repository
        self._wait_s = config.database.wait_s
        self._refresh_s = config.database.directory_refresh_s
        self.spool = Spool(
            state_dir / "spool",
            max_events=config.spool.max_events,
            warn_ratio=config.spool.warn_ratio,
        )
        self.directory = CardDirectory(state_dir)
        # Two group-commit writers: swipes (lookup and insert in one transaction) and,
        # for the rarer two-step path, events of already known holders.
        self._swipes = _GroupWriter[SwipeRecord, Person | None](
            repository.record_swipes, lanes=repository.swipe_lanes
        )
        self._events = _GroupWriter[ClockEvent, bool](repository.record_events)
        self._db_ok = True
        self._last_db_write: datetime | None = None
        self._unknown: deque[UnknownSwipe] = deque(maxlen=UNKNOWN_KEPT)
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        # The spool sets this after each append; failures set it too: the drainer wakes.
        self._wake = self.spool.appended
        self._handover: asyncio.Future[None] | None = None  # set while the last batch replays
        self._started = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Recover the spool, load the directory; never fails because the database is down."""
        await self.spool.open()
        await asyncio.to_thread(self.directory.load_file)
        self._started = True  # the first refresh runs in the background: a slow database
        # must not hold up the start (the saved directory answers meanwhile)
        self._tasks = [
            asyncio.create_task(self._drain_loop(), name="recorder-drainer"),
            asyncio.create_task(self._refresh_loop(), name="recorder-directory"),
        ]
        log().info(
            "recorder_started",
            spool_depth=self.spool.depth,
            directory_cards=len(self.directory),
            database_ok=self._db_ok,
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
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._wait_s):
                await self._swipes.wait_idle()
                await self._events.wait_idle()
        for task in list(self._background):
            task.cancel()  # lookups or writes nobody waits for any more
        await self.spool.close()
        log().info("recorder_stopped", spool_depth=self.spool.depth)

    # -- EventSink -------------------------------------------------------------------
    async def record_swipe(self, swipe: SwipeRecord) -> SwipeStored:
        """The swipe path: one group-committed transaction looks the card up and stores
        the event; the directory answers only when the database does not."""
        if not self._started:
            raise StoreUnavailableError("the recorder is not running")
        await self._wait_handover()
        if self._db_ok and self.spool.depth == 0:
            try:
                person = await self._bounded(self._swipes.submit(swipe))
            except Exception as exc:
                if is_permanent(exc):
                    # Refused data (rare): the two-step path below deals with it as
                    # it always did (a bad card key is an error, a refused event is
                    # spooled and dead-lettered).
                    return await self._record_in_steps(swipe)
                self._db_failed("record", exc)
            else:
                self._db_succeeded()
                self.directory.remember(swipe.card_key, person)
                return SwipeStored(person, None if person is None else Durability.DATABASE)
        elif self._db_ok:
            # A backlog: the event queues behind it in the spool (the reader's order
            # holds), but the card is still checked in the database while it answers.
            return await self._record_in_steps(swipe)
        person = self.directory.get(swipe.card_key)
        if person is None:
            await self.record_unknown(swipe.unknown())
            return SwipeStored(None, None, from_cache=True)
        await self.spool.append(swipe.event_for(person.uid))  # SpoolError: logged there
        return SwipeStored(person, Durability.SPOOL, from_cache=True)

    async def _record_in_steps(self, swipe: SwipeRecord) -> SwipeStored:
        lookup = await self.lookup_card(swipe.card_key)
        if lookup.person is None or not lookup.person.active:
            await self.record_unknown(swipe.unknown())
            return SwipeStored(None, None, lookup.from_cache)
        durability = await self.record_event(swipe.event_for(lookup.person.uid))
        return SwipeStored(lookup.person, durability, lookup.from_cache)

    async def lookup_card(self, card_key: str) -> CardLookup:
        """The card's holder on its own (a transaction of its own); the directory's
        answer when the database does not answer in time."""
        if self._db_ok:
            try:
                person = await self._bounded(self._repo.find_person_by_card(card_key))
            except Exception as exc:
                if is_permanent(exc):
                    raise
                self._db_failed("lookup", exc)
            else:
                self.directory.remember(card_key, person)
                return CardLookup(person)
        person = self.directory.get(card_key)
        log().debug("card_from_directory", card=card_key, known=person is not None)
        return CardLookup(person, from_cache=True)

    async def record_event(self, event: ClockEvent) -> Durability:
        """Make one event of a known holder durable: the database, or the spool."""
        if not self._started:
            raise StoreUnavailableError("the recorder is not running")
        await self._wait_handover()
        # With a backlog, the event queues behind it so that the reader's order holds.
        if self._db_ok and self.spool.depth == 0:
            try:
                await self._bounded(self._events.submit(event))
            except Exception as exc:
                if is_permanent(exc):
                    # Kept locally; the drainer moves it to the dead-letter file.
                    log().error("event_refused", event_key=str(event.event_key), error=str(exc))
                else:
                    self._db_failed("record", exc)
            else:
                self._db_succeeded()
                return Durability.DATABASE
        await self.spool.append(event)  # SpoolError: logged by the spool, with the reason
        return Durability.SPOOL

    async def _wait_handover(self) -> None:
        if self._handover is not None and self._db_ok:
            # The drainer is replaying the last of the backlog: a short wait here lets
            # this event go to the database instead of chasing the drainer's tail.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._wait_s / 2):
                    await asyncio.shield(self._handover)

    async def record_unknown(self, swipe: UnknownSwipe) -> None:
        if self._db_ok:
            try:
                await self._bounded(self._repo.record_unknown(swipe))
                return
            except Exception as exc:
                if is_permanent(exc):
                    log().warning("unknown_swipe_refused", card=swipe.card_key, error=str(exc))
                    return
                self._db_failed("unknown", exc)
        # Best effort by design: the enrolment list is a convenience, so these wait in
        # memory (bounded) for the database rather than in the fsync'd spool.
        self._unknown.append(swipe)
        log().info("unknown_swipe_deferred", card=swipe.card_key, pending=len(self._unknown))

    def stats(self) -> RecorderStats:
        return RecorderStats(
            spool_depth=self.spool.depth,
            spool_max=self.spool.max_events,
            dead_letters=self.spool.dead_letters,
            last_db_write_at=self._last_db_write,
            directory_age_s=self.directory.age_s(),
            directory_cards=len(self.directory),
            database_ok=self._db_ok,
            unknown_pending=len(self._unknown),
        )

    # -- database state --------------------------------------------------------------
    async def _bounded(self, work: Awaitable[T]) -> T:
        """Wait at most wait_s; the work itself goes on (a late commit is harmless)."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(_forget(self._background))
        async with asyncio.timeout(self._wait_s):
            return await asyncio.shield(task)

    def _db_failed(self, where: str, exc: BaseException) -> None:
        if self._db_ok:
            error = "no answer within the wait" if isinstance(exc, TimeoutError) else str(exc)
            log().warning("database_unavailable", during=where, error=error, wait_s=self._wait_s)
        self._db_ok = False
        self._wake.set()

    def _db_succeeded(self) -> None:
        self._last_db_write = datetime.now(UTC)
        if not self._db_ok:
            log().info("database_back", spool_depth=self.spool.depth)
        self._db_ok = True

    # -- drainer ---------------------------------------------------------------------
    async def _drain_loop(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            # Cleared before looking at the spool, so that an append made while this
            # step runs makes the wait below return at once (no lost wake-up).
            self._wake.clear()
            try:
                progressed = await self._drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.spool.rewind()
                if isinstance(exc, DatabaseUnavailableError | TimeoutError | OSError):
                    self._db_failed("drain", exc)
                elif isinstance(exc, SpoolError):
                    log().error("drain_failed", reason=exc.reason, error=str(exc))
                else:  # a bug: say so loudly, and keep going, the drainer must never die
                    log().error("drain_failed", error=repr(exc), exc_info=True)
                await asyncio.sleep(backoff)  # not woken by appends: the database is away
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            if progressed:
                backoff = BACKOFF_MIN_S
            elif self._db_ok:
                await self._wake.wait()
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _drain_once(self) -> bool:
        """One step of work; True if something was replayed. Raises on database failure."""
        if self.spool.depth > 0:
            if self._db_ok and self.spool.depth <= DRAIN_BATCH:
                # The last batch: hold new live events (briefly) so the spool empties.
                self._handover = asyncio.get_running_loop().create_future()
            try:
                return await self._drain_batch()
            finally:
                if self._handover is not None:
                    self._handover.set_result(None)
                    self._handover = None
        if self._unknown:
            swipe = self._unknown[0]
            try:
                await self._repo.record_unknown(swipe)
            except Exception as exc:
                if not is_permanent(exc):
                    raise
                log().warning("unknown_swipe_refused", card=swipe.card_key, error=str(exc))
            self._unknown.popleft()
            self._db_succeeded()
            return True
        if not self._db_ok:
            await self._repo.check()
            if not self._db_ok:
                log().info("database_back", spool_depth=self.spool.depth)
            self._db_ok = True
            return True
        return False

    async def _drain_batch(self) -> bool:
        """Replay one batch in append order; True if it made progress."""
        batch = await self.spool.read_batch(DRAIN_BATCH)
        if not batch.records:
            if batch.end != self.spool.committed:
                await self.spool.commit(batch)  # only damaged bytes were skipped
                return True
            # Appends in flight count in the depth but are not readable yet; their
            # fsync sets the wake-up event.
            return False
        started = time.monotonic()
        await self._replay(batch)
        await self.spool.commit(batch)
        self._db_succeeded()
        log().debug(
            "spool_replayed",
            events=len(batch.records),
            ms=round((time.monotonic() - started) * 1000, 1),
            depth=self.spool.depth,
        )
        if self.spool.depth == 0:
            log().info("spool_drained")
        return True

    async def _replay(self, batch: SpoolBatch) -> None:
        good = [r for r in batch.records if r.event is not None]
        for bad in (r for r in batch.records if r.event is None):
            await self.spool.dead_letter(bad, "undecodable record")
        try:
            await self._repo.record_events([r.event for r in good if r.event])
            return
        except Exception as exc:
            if not is_permanent(exc):
                raise
        # Something in the batch is refused: find it, keep the rest in order.
        for record in good:
            await self._replay_one(record)

    async def _replay_one(self, record: SpoolRecord) -> None:
        assert record.event is not None
        try:
            await self._repo.record_events([record.event])
        except Exception as exc:
            if not is_permanent(exc):
                raise
            await self.spool.dead_letter(record, str(exc))

    # -- directory -------------------------------------------------------------------
    async def _refresh_loop(self) -> None:
        while True:
            await self._refresh_directory()
            await asyncio.sleep(self._refresh_s)

    async def _refresh_directory(self) -> None:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancel() that lands just as the work completes, and stop() would hang.
            async with asyncio.timeout(DIRECTORY_TIMEOUT_S):
                cards = await self._repo.card_directory()
        except Exception as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            log().warning(
                "directory_refresh_failed",
                error="timeout" if isinstance(exc, TimeoutError) else str(exc),
                age_s=self.directory.age_s(),
            )
            if not is_permanent(exc):
                self._db_failed("directory", exc)
            return
        self.directory.replace(cards)
        try:
            await asyncio.to_thread(self.directory.save_file)
        except OSError as exc:
            log().error("directory_save_failed", path=str(self.directory.path), error=str(exc))
        log().info("directory_refreshed", cards=len(cards))


def _forget(tasks: set[asyncio.Task[Any]]) -> Any:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # mark retrieved: a late failure is expected, not a bug

    return done
