"""One timer for the heartbeats of every link on an event loop.

Each link's next deadline is rounded up to a grid (link.py), so hundreds of idle
readers are due at a few instants a second. With a loop timer per link, each of
those instants still cost a TimerHandle per reader, pushed into and popped from the
loop's heap (whose comparisons are Python code: about eight a push for 256 timers),
and a callback run each. Here the links due at one instant share a slot: a plain
list, in a dict keyed by the instant, with one loop timer for the earliest slot.
Arming is an append, firing runs the slot's callbacks in the order they were armed.
The daemon gives its links one Ticker; a link made without one has its own.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable

from gateway.logs import get_logger

log = get_logger("link")


class Tick:
    """An armed callback; `cancel()` keeps it from running."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Ticker:
    """Callbacks at loop times, those at the same time run from one loop timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slots: dict[float, list[Tick]] = {}
        self._times: list[float] = []  # heap of the slots' times (floats: compared in C)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._firing = False

    def call_at(self, when: float, callback: Callable[[], None]) -> Tick:
        """Run `callback` at loop time `when` (callers round it to their grid, so that
        many share a slot)."""
        tick = Tick(callback)
        slot = self._slots.get(when)
        if slot is None:
            self._slots[when] = [tick]
            heapq.heappush(self._times, when)
            # The loop timer is always at the earliest slot (while firing, it is set
            # once the due slots have run).
            if not self._firing and (self._timer is None or when < self._timer_at):
                self._arm(when)
        else:
            slot.append(tick)
        return tick

    @property
    def pending(self) -> int:
        """Callbacks armed and not yet run (cancelled ones included until their slot)."""
        return sum(len(slot) for slot in self._slots.values())

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)
        self._timer_at = when

    def _fire(self) -> None:
        self._timer = None
        # Every slot due now, the one this timer was for included (the loop may run a
        # timer a hair early, within its clock's resolution). The due slots are taken
        # first: what their callbacks arm waits for the next timer.
        end = max(self._loop.time(), self._timer_at)
        times, due = self._times, []
        while times and times[0] <= end:
            due.append(self._slots.pop(heapq.heappop(times)))
        try:
            for slot in due:
                for tick in slot:
                    if not tick.cancelled:
                        try:
                            tick.callback()
                        except Exception as exc:  # one link's bug must not stop the others
                            log.error("tick_failed", error=repr(exc), exc_info=True)
        finally:
            self._firing = False
            if times:
                self._arm(times[0])
