"""The card directory refresher: the last-known directory, fresh from the database.

At start (in the background: a slow database must not hold up the start, the saved
directory answers meanwhile) and every `database.directory_refresh_s`, the whole
directory is read from the database, replaces the one in memory and is saved to disk.
"""

from __future__ import annotations

import asyncio

from gateway.durable.directory import CardDirectory
from gateway.logs import get_logger
from gateway.recording.storage import DatabaseHealth, SwipeStorage, is_permanent

log = get_logger("recorder")

DIRECTORY_TIMEOUT_S = 30.0


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

    async def run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._every_s)

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
