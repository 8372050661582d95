"""The daemon's sealer: every stored row sealed within seconds, the head copied out.

A supervised, non-critical loop (a failure here never stops a swipe): every
SEAL_EVERY_S it seals what was stored since (store/seals.py; on a fleet one gateway at
a time does it, the others find nothing left). It copies the chain's head out of the
database when the daemon starts, at least every HEAD_EVERY, and when it stops
(store/heads.py, and a `register_head` log event for the journal). A clean stop seals
what this daemon stored before it exits, so `register verify` right after a stop
passes.

Its figures go to the status file: `clock-gateway status` shows the backlog.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.errors import GatewayError
from gateway.logs import get_logger
from gateway.status import RegisterStatus
from gateway.store.chain import Link
from gateway.store.heads import append_head, last_recorded
from gateway.store.seals import SealStore

SEAL_EVERY_S = 5.0
# Sealing shares the event loop with the swipes: small transactions (about 3 ms of
# CPU each) with a pause between them, so a burst of taps waits for one of them at
# most, never for a whole round (200-row rounds doubled the latency's p99).
SEAL_BATCH = 40
SEAL_PAUSE_S = 0.005
HEAD_EVERY = timedelta(hours=24)
# The final seal of a clean stop: within systemd's stop timeout with room to spare.
FINAL_SEAL_S = 5.0

log = get_logger("register")


class Sealer:
    def __init__(
        self,
        seals: SealStore,
        state_dir: Path,
        gateway_id: str,
        *,
        every_s: float = SEAL_EVERY_S,
    ) -> None:
        self._seals = seals
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
            result = await self._seals.seal_pending(batch=SEAL_BATCH, pause_s=SEAL_PAUSE_S)
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
                    result = await self._seals.seal_pending()
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

    async def _record_head(self, why: str) -> None:
        """Copy the chain's current head (read afresh: on a fleet another gateway may
        have sealed since) to the heads log and the journal."""
        head = self._head = await self._seals.head()
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
