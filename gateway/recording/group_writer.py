"""Group commit: the swipes of many readers written in few transactions.

While `lanes` transactions run, the items of all readers queue for the next one to
start; a batch function answers one result per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from gateway.recording.storage import is_permanent

LIVE_BATCH = 200  # most items in one transaction

I = TypeVar("I")  # noqa: E741  (an item queued for a group commit)
R = TypeVar("R")


class GroupWriter(Generic[I, R]):
    """Batches concurrent calls into few transactions (at most `lanes` at once)."""

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
