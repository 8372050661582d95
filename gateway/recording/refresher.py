"""The card directory refresher: the last-known directory, fresh from the database.

At start (in the background: a slow database must not hold up the start, the saved
directory answers meanwhile) and every `database.directory_refresh_s`, the whole
directory is read from the database, replaces the one in memory and is saved to disk.

`poke()` asks for a refresh soon: PostgreSQL notifies every gateway when cards or
people change (gateway.store.listen). The refresh then waits a random
0-POKE_JITTER_S, so that a fleet of gateways does not read the whole directory in
the same millisecond, and every poke during that wait is served by the same refresh
(an import of 500 people is one reload). The periodic refresh stays as the fallback.
"""

from __future__ import annotations

import asyncio
import random

from gateway.durable.directory import CardDirectory
from gateway.logs import get_logger
from gateway.recording.storage import DatabaseHealth, SwipeStorage, is_permanent

log = get_logger("recorder")

DIRECTORY_TIMEOUT_S = 30.0
POKE_JITTER_S = 1.0


class DirectoryRefresher:
    """Runs `run()` as one task."""

    def __init__(
        self,
        storage: SwipeStorage,
        directory: CardDirectory,
        health: DatabaseHealth,
        every_s: float,
    ) -> None:
        self._storage = storage
        self._directory = directory
        self._health = health
        self._every_s = every_s
        self._poked = asyncio.Event()
        self.pokes = 0

    def poke(self, reason: str = "notify") -> None:
        self.pokes += 1
        if not self._poked.is_set():
            log.debug("directory_refresh_asked", reason=reason)
        self._poked.set()

    async def run(self) -> None:
        while True:
            self._poked.clear()  # a poke from here on asks for another refresh
            await self.refresh()
            try:
                async with asyncio.timeout(self._every_s):
                    await self._poked.wait()
            except TimeoutError:
                continue  # the periodic refresh
            await asyncio.sleep(random.uniform(0.0, POKE_JITTER_S))

    async def refresh(self) -> None:
        directory = self._directory
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancel() that lands just as the work completes, and stop() would hang.
            async with asyncio.timeout(DIRECTORY_TIMEOUT_S):
                cards = await self._storage.card_directory()
        except Exception as exc:
            log.warning(
                "directory_refresh_failed",
                error="timeout" if isinstance(exc, TimeoutError) else str(exc),
                age_s=directory.age_s(),
            )
            if not is_permanent(exc):
                self._health.failed("directory", exc)
            return
        directory.replace(cards)
        try:
            await directory.save()
        except OSError as exc:
            log.error("directory_save_failed", path=str(directory.path), error=str(exc))
        log.info("directory_refreshed", cards=len(cards))
