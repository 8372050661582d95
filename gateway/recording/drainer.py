"""The drainer: replays the spool into the database, in append order, exactly once.

A batch is marked done (checkpoint) only after the database committed it; event keys
make a replay after a crash harmless. An event the database refuses for good goes to
the spool's dead-letter file with an error log event. While the database is away the
drainer probes it with backoff; it also replays, best effort, the unknown cards that
waited in memory for the enrolment list.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from gateway.domain import UnknownSwipe
from gateway.durable.spool import Spool, SpoolBatch, SpoolError, SpoolRecord
from gateway.errors import DatabaseUnavailableError
from gateway.logs import get_logger
from gateway.recording.storage import DatabaseHealth, SwipeStorage, is_permanent

log = get_logger("recorder")

DRAIN_BATCH = 500  # events per replay transaction
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 1.0  # a refused connection costs little: notice the return soon
UNKNOWN_KEPT = 1000  # unknown swipes kept in memory while the database is away


class Drainer:
    """Runs `run()` as one task; woken by `wake` (an asyncio.Event its owner sets
    after each durable append and each database failure)."""

    def __init__(
        self,
        storage: SwipeStorage,
        spool: Spool,
        health: DatabaseHealth,
        wake: asyncio.Event,
    ) -> None:
        self._storage = storage
        self._spool = spool
        self._health = health
        self._wake = wake
        self._unknown: deque[UnknownSwipe] = deque(maxlen=UNKNOWN_KEPT)
        # Set while the last batch of a backlog replays (see Recorder._wait_handover).
        self.handover: asyncio.Future[None] | None = None

    def defer_unknown(self, swipe: UnknownSwipe) -> None:
        """Keep an unknown card for the enrolment list until the database is back.

        Best effort by design: the list is a convenience, so these wait in memory
        (bounded) rather than in the fsync'd spool.
        """
        self._unknown.append(swipe)
        log.info("unknown_swipe_deferred", card=swipe.card_key, pending=len(self._unknown))

    @property
    def unknown_pending(self) -> int:
        return len(self._unknown)

    async def run(self) -> None:
        backoff = BACKOFF_MIN_S
        while True:
            # Cleared before looking at the spool, so that an append made while this
            # step runs makes the wait below return at once (no lost wake-up).
            self._wake.clear()
            try:
                progressed = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._spool.rewind()
                if isinstance(exc, DatabaseUnavailableError | TimeoutError | OSError):
                    self._health.failed("drain", exc)
                elif isinstance(exc, SpoolError):
                    log.error("drain_failed", reason=exc.reason, error=str(exc))
                else:  # a bug: say so loudly, and keep going, the drainer must never die
                    log.error("drain_failed", error=repr(exc), exc_info=True)
                await asyncio.sleep(backoff)  # not woken by appends: the database is away
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            if progressed:
                backoff = BACKOFF_MIN_S
            elif self._health.ok:
                await self._wake.wait()
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _step(self) -> bool:
        """One step of work; True if something was replayed. Raises on database failure."""
        spool = self._spool
        if spool.depth > 0:
            if self._health.ok and spool.depth <= DRAIN_BATCH:
                # The last batch: hold new live events (briefly) so the spool empties.
                self.handover = asyncio.get_running_loop().create_future()
            try:
                return await self._drain_batch()
            finally:
                if self.handover is not None:
                    self.handover.set_result(None)
                    self.handover = None
        if self._unknown:
            swipe = self._unknown[0]
            try:
                await self._storage.record_unknown(swipe)
            except Exception as exc:
                if not is_permanent(exc):
                    raise
                log.warning("unknown_swipe_refused", card=swipe.card_key, error=str(exc))
            self._unknown.popleft()
            self._health.wrote(spool.depth)
            return True
        if not self._health.ok:
            await self._storage.check()
            self._health.answered(spool.depth)
            return True
        return False

    async def _drain_batch(self) -> bool:
        """Replay one batch in append order; True if it made progress."""
        spool = self._spool
        batch = await spool.read_batch(DRAIN_BATCH)
        if not batch.records:
            if batch.end != spool.committed:
                await spool.commit(batch)  # only damaged bytes were skipped
                return True
            # Appends in flight count in the depth but are not readable yet; their
            # fsync sets the wake-up event.
            return False
        started = time.monotonic()
        await self._replay(batch)
        await spool.commit(batch)
        self._health.wrote(spool.depth)
        log.debug(
            "spool_replayed",
            events=len(batch.records),
            ms=round((time.monotonic() - started) * 1000, 1),
            depth=spool.depth,
        )
        if spool.depth == 0:
            log.info("spool_drained")
        return True

    async def _replay(self, batch: SpoolBatch) -> None:
        good = [r for r in batch.records if r.event is not None]
        for bad in (r for r in batch.records if r.event is None):
            await self._spool.dead_letter(bad, "undecodable record")
        try:
            await self._storage.record_events([r.event for r in good if r.event])
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
            await self._storage.record_events([record.event])
        except Exception as exc:
            if not is_permanent(exc):
                raise
            await self._spool.dead_letter(record, str(exc))
