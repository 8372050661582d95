"""What a daemon does as one gateway of a fleet, beside serving its readers:

- publishes its heartbeat (version, readers and their states, spool depth, last
  write) to the central `gateways` table every `fleet.heartbeat_s`: best effort, in a
  task of its own with a bounded wait, never on the swipe path; a failure is logged
  once per outage and the next beat tries again;
- listens for card changes (PostgreSQL NOTIFY) and has the directory refreshed;
- counts swipes for /metrics and serves /metrics and /healthz when `[metrics] listen`
  is set (gateway.metrics).

The daemon gives it two callables: the readers' states and the recorder's stats, both
read on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway import __version__
from gateway.config import Config
from gateway.errors import GatewayError
from gateway.logs import get_logger
from gateway.metrics import GatewayMetrics, GatewaySample, MetricsServer, ReaderSample
from gateway.recording.recorder import Recorder, RecorderStats
from gateway.status import ReaderStatus
from gateway.store.gateways import GatewayHeartbeat, GatewayReader
from gateway.store.stores import Stores

log = get_logger("fleet")

STOP_S = 2.0


class FleetMember:
    def __init__(
        self,
        config: Config,
        stores: Stores,
        recorder: Recorder,
        readers: Callable[[], tuple[ReaderStatus, ...]],
        supervised: Callable[[str], bool],
        started_at: datetime,
    ) -> None:
        self._config = config
        self._stores = stores
        self._recorder = recorder
        self._readers = readers
        self._supervised = supervised
        self._started_at = started_at
        self.metrics = GatewayMetrics(config.gateway_id)
        self._server: MetricsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._beat_failed = False
        self.beats = 0

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="fleet-heartbeat"))
        listener = self._stores.swipes.card_change_listener(
            self._recorder.cards_changed, url=self._config.fleet.notify_url
        )
        if listener is not None:
            self._tasks.append(asyncio.create_task(listener.run(), name="card-changes"))
        if self._config.metrics.listen is not None:
            host, port = self._config.metrics.listen
            self._server = MetricsServer(self.metrics, self.sample, host, port)
            try:
                bound = await self._server.start()
            except GatewayError as exc:
                # Swipes matter more than metrics: run without them, and say so loudly.
                self._server = None
                log.error("metrics_listen_failed", error=str(exc))
            else:
                log.info("metrics_listening", address=f"{bound[0]}:{bound[1]}")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        # Bounded: a heartbeat stuck in a dead connection must not hold up the stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_S):
                for task in self._tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        self._tasks = []
        if self._server is not None:
            await self._server.stop()
            self._server = None

    # -- the swipe path's one call: a dictionary look-up and two locked adds ------------
    def swipe(self, reader: str, outcome: str, seconds: float) -> None:
        self.metrics.swipe(reader, outcome, seconds)

    # -- sampled on the event loop (by the metrics thread's probe) ----------------------
    def sample(self) -> GatewaySample:
        stats = self._recorder.stats()
        readers = self._readers()
        return GatewaySample(
            readers=tuple(
                ReaderSample(r.name, r.link_state, self._supervised(r.name)) for r in readers
            ),
            readers_configured=len(self._config.readers),
            database_ok=stats.database_ok,
            spool_depth=stats.spool_depth,
            spool_max=stats.spool_max,
            spool_writable=stats.spool_writable,
            spool_oldest_at=stats.spool_oldest_at,
            spool_replayed=stats.spool_replayed,
            dead_letters=stats.dead_letters,
            last_db_write_at=stats.last_db_write_at,
            directory_cards=stats.directory_cards,
            directory_age_s=stats.directory_age_s,
        )

    # -- heartbeat -------------------------------------------------------------------
    def heartbeat(self, stats: RecorderStats | None = None) -> GatewayHeartbeat:
        stats = stats or self._recorder.stats()
        return GatewayHeartbeat(
            id=self._config.gateway_id,
            version=__version__,
            hostname=socket.gethostname(),
            started_at=self._started_at,
            spool_depth=stats.spool_depth,
            last_write_at=stats.last_db_write_at,
            readers=tuple(
                GatewayReader(r.name, r.role, r.link_state, r.last_swipe_at)
                for r in self._readers()
            ),
        )

    async def _heartbeat_loop(self) -> None:
        every = self._config.fleet.heartbeat_s
        while True:
            await self.publish()
            await asyncio.sleep(every)

    async def publish(self) -> bool:
        """One heartbeat; False (logged once per outage) when the database is away."""
        beat = self.heartbeat()
        try:
            # Bounded: a slow database must not pile up heartbeats.
            async with asyncio.timeout(max(1.0, min(5.0, self._config.fleet.heartbeat_s))):
                await self._stores.gateways.publish(beat)
        except Exception as exc:  # best effort by design: never more than a log line
            if not self._beat_failed:
                self._beat_failed = True
                log.warning("heartbeat_failed", error=_short(exc))
            return False
        if self._beat_failed:
            self._beat_failed = False
            log.info("heartbeat_ok")
        self.beats += 1
        return True


def _short(exc: BaseException) -> Any:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
