"""Keeping the daemon's own loops alive: restart a failed one, give up loudly.

A loop that raises (or returns: a supervised loop never should) is logged with its
traceback and started again after a delay that doubles from `first_delay_s` up to
`max_delay_s`. After `give_up_after` failures in a row (a run shorter than
`healthy_run_s` does not break the row) it is given up. Giving up a critical loop
makes the supervisor unhealthy, and the daemon then stops pinging the systemd
watchdog: systemd restarts the whole service, which is better than running on
without, say, the loop that publishes the status and watches for stalls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.logs import get_logger

log = get_logger("daemon")

Loop = Callable[[], Coroutine[Any, Any, None]]


class Supervisor:
    def __init__(
        self,
        *,
        first_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        give_up_after: int = 5,
        healthy_run_s: float = 60.0,
    ) -> None:
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.give_up_after = give_up_after
        self.healthy_run_s = healthy_run_s
        self.given_up: str | None = None  # the first critical loop given up
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def healthy(self) -> bool:
        return self.given_up is None

    def keep(self, name: str, loop: Loop, *, critical: bool) -> asyncio.Task[None]:
        """Run `loop()` until stopped, restarting it when it fails."""
        return self._track(asyncio.create_task(self._keep(name, loop, critical), name=name))

    def once(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a one-off job (a reload); a failure is logged, never restarted."""
        return self._track(asyncio.create_task(self._once(name, coro), name=name))

    async def stop(self) -> None:
        """Cancel everything and wait for it to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _track(self, task: asyncio.Task[None]) -> asyncio.Task[None]:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _once(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception:
            log.error("daemon_task_failed", task=name, exc_info=True)

    async def _keep(self, name: str, loop: Loop, critical: bool) -> None:
        delay = self.first_delay_s
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await loop()
                error = "returned"
                log.error("daemon_task_failed", task=name, error=error)
            except Exception as exc:
                error = repr(exc)
                # Logged here, inside the handler, so that the traceback goes with it.
                log.error("daemon_task_failed", task=name, error=error, exc_info=True)
            if time.monotonic() - started >= self.healthy_run_s:
                failures, delay = 0, self.first_delay_s
            failures += 1
            if failures >= self.give_up_after:
                log.critical(
                    "daemon_task_given_up",
                    task=name,
                    failures=failures,
                    error=error,
                    critical=critical,
                )
                if critical and self.given_up is None:
                    self.given_up = name
                return
            log.warning("daemon_task_restarting", task=name, in_s=delay, failures=failures)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay_s)
