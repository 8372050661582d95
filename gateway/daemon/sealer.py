"""The daemon's sealer: every stored row sealed within seconds, the head copied out.

A supervised, non-critical loop (a failure here never stops a swipe): every
SEAL_EVERY_S it seals what was stored since (store/seals.py; on a fleet one gateway at
a time does it, the others find nothing left). It copies the chain's head out of the
database when the daemon starts, at least every HEAD_EVERY, and when it stops
(store/heads.py, and a `register_head` log event for the journal). A clean stop seals
what this daemon stored before it exits, so `register verify` right after a stop
passes.

Its figures go to the status file: `clock-gateway status` shows the backlog.

The rounds run on a thread of their own (SealThread: its own event loop and its own
one-connection engine), not on the daemon's event loop: hashing costs tens of
microseconds per row, and a swipe that arrived during a sealing transaction on the
loop waited for it (the latency's p99 went from 3-5 ms to 6-7 ms). The GIL still
serialises Python work, so the rounds stay small with a pause between them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from gateway.errors import GatewayError
from gateway.logs import get_logger
from gateway.status import RegisterStatus
from gateway.store.chain import Link
from gateway.store.database import Database
from gateway.store.heads import append_head, last_recorded
from gateway.store.seals import SealStore

SEAL_EVERY_S = 5.0
# Small transactions (about 3 ms of CPU each) with a pause between them: the sealer's
# thread still shares the GIL with the swipes' loop (and, on SQLite, the one writer's
# lock), so a burst of taps waits for one of them at most, never for a whole round
# (200-row rounds doubled the latency's p99 when sealing ran on the loop itself).
SEAL_BATCH = 40
SEAL_PAUSE_S = 0.005
HEAD_EVERY = timedelta(hours=24)
# The final seal of a clean stop: within systemd's stop timeout with room to spare.
FINAL_SEAL_S = 5.0

log = get_logger("register")

T = TypeVar("T")


class SealThread:
    """A thread with its own event loop and its own database engine (one connection):
    the sealer's database work and hashing run there, off the swipes' loop."""

    def __init__(self, url: str, pooler: str = "none") -> None:
        self._loop = asyncio.new_event_loop()
        self._db: Database | None = None
        self._url = url
        self._pooler = pooler  # behind a transaction-mode pooler: no server-side prepares
        self._thread = threading.Thread(target=self._loop.run_forever, name="sealer", daemon=True)
        self._thread.start()
        self.seals: SealStore = self.run_sync(self._open)

    async def _open(self) -> SealStore:
        # Built on the thread's loop: an async engine belongs to the loop it runs on.
        # Its own name in pg_stat_activity and the server's log, apart from the swipe path's.
        self._db = Database(
            self._url,
            pool_size=1,
            application_name="clock-gateway-sealer",
            pooler=self._pooler,
        )
        return SealStore(self._db)

    # `make` is a coroutine function: calling it here only builds the coroutine; its
    # body, and whatever it opens, runs on the sealer's loop.
    def run_sync(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(make(), self._loop).result()

    async def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """`make()` awaited on the sealer's thread; cancelling this cancels it there."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), self._loop))

    async def close(self) -> None:
        if self._db is not None:
            await self.run(self._db.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 5.0)
        if not self._thread.is_alive():
            self._loop.close()


class Sealer:
    def __init__(
        self,
        seals: SealStore,
        state_dir: Path,
        gateway_id: str,
        *,
        every_s: float = SEAL_EVERY_S,
        url: str | None = None,
        pooler: str = "none",
    ) -> None:
        # With a URL: the rounds run on a SealThread with its own connection.
        self._thread = SealThread(url, pooler) if url is not None else None
        self._seals = self._thread.seals if self._thread is not None else seals
        self._state_dir = state_dir
        self._gateway_id = gateway_id
        self.every_s = every_s
        self._status = RegisterStatus()
        self._error: str | None = None
        self._head: Link | None = None
        self._head_recorded_at: datetime | None = None
        self._started = False

    def status(self) -> RegisterStatus:
        return self._status

    async def run(self) -> None:
        """Seal forever (the supervisor restarts it if something unexpected breaks)."""
        if self._head_recorded_at is None:
            self._head_recorded_at = await asyncio.to_thread(last_recorded, self._state_dir)
        while True:
            await self.seal_once()
            await asyncio.sleep(self.every_s)

    async def seal_once(self) -> None:
        """One round; a database that is away is noted, not raised."""
        began = time.monotonic()
        try:
            result = await self._off_loop(
                lambda: self._seals.seal_pending(batch=SEAL_BATCH, pause_s=SEAL_PAUSE_S)
            )
            if result.head is not None:
                self._head = result.head
            if not self._started or self._head_due():
                await self._record_head("start" if not self._started else "daily")
            self._started = True
        except GatewayError as exc:
            if str(exc) != self._error:  # once per problem, not every round
                log.warning("register_seal_failed", error=str(exc))
            self._error = str(exc)
            self._status = RegisterStatus(
                self._status.unsealed, self._status.sealed_at, self._status.head_seq, str(exc)
            )
            return
        if self._error is not None:
            log.info("register_seal_ok")
            self._error = None
        if result.sealed:
            log.debug(
                "register_sealed",
                rows=result.sealed,
                head=self._head.seq if self._head else None,
                seconds=round(time.monotonic() - began, 3),
            )
        self._status = RegisterStatus(
            unsealed=result.pending,
            sealed_at=self._status.sealed_at if result.busy else datetime.now(UTC),
            head_seq=None if self._head is None else self._head.seq,
        )

    def _head_due(self) -> bool:
        recorded = self._head_recorded_at
        return recorded is None or datetime.now(UTC) - recorded >= HEAD_EVERY

    async def final(self) -> None:
        """On a clean stop: seal what is left (bounded), then copy the head out."""
        try:
            async with asyncio.timeout(FINAL_SEAL_S):
                for _ in range(100):  # another gateway may hold the lock a moment
                    result = await self._off_loop(self._seals.seal_pending)
                    if result.head is not None:
                        self._head = result.head
                    if not result.busy:
                        break
                    await asyncio.sleep(0.05)
                await self._record_head("stop")
        except (GatewayError, TimeoutError) as exc:
            log.warning(
                "register_final_seal_failed",
                error=str(exc) or "timed out",
                hint="the rows left are sealed at the next start",
            )
        if self._thread is not None:
            await self._thread.close()

    async def _off_loop(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """`make()` on the sealer's thread when it has one, else here."""
        if self._thread is None:
            return await make()
        return await self._thread.run(make)

    async def _record_head(self, why: str) -> None:
        """Copy the chain's current head (read afresh: on a fleet another gateway may
        have sealed since) to the heads log and the journal."""
        head = self._head = await self._off_loop(self._seals.head)
        if head is None:
            return
        log.info("register_head", seq=head.seq, seal=head.seal, why=why)
        try:
            await asyncio.to_thread(
                append_head, self._state_dir, head, why=why, gateway=self._gateway_id
            )
        except OSError as exc:
            log.warning("register_head_not_written", error=str(exc))
            return
        self._head_recorded_at = datetime.now(UTC)
