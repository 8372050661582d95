"""Noticing a wall-clock step: wall time against the monotonic clock.

Events keep the wall time they were received at: it is what people see and what
the reports count. But a clock stepped back by an hour (a bad NTP server, a
hand-set clock) turns 1:15 of work into 0:15 without a trace. The daemon compares
`time.time()` with `time.monotonic()` every CHECK_EVERY_S: while the clock runs
freely their difference stays put (NTP slews at most 0.5 ms/s); a jump of more than
STEP_MIN_S is a step. It is logged (`clock_step`), recorded in the `clock_steps`
table (schema v2) and the reports flag the days it touched (`clock-step`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.logs import get_logger

CHECK_EVERY_S = 1.0
STEP_MIN_S = 2.0  # far above slewing and scheduling noise, far below a DST-sized mistake

log = get_logger("clock")


@dataclass(frozen=True)
class ClockStep:
    detected_at: datetime  # wall time after the step (UTC)
    step_s: float  # wall minus monotonic drift: negative = stepped back


class ClockWatch:
    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        *,
        step_min_s: float = STEP_MIN_S,
    ) -> None:
        self._wall = wall
        self._mono = mono
        self.step_min_s = step_min_s
        self._offset = wall() - mono()

    def check(self) -> ClockStep | None:
        """The step since the last check, if the wall clock jumped; else None."""
        wall = self._wall()
        offset = wall - self._mono()
        step = offset - self._offset
        self._offset = offset
        if abs(step) < self.step_min_s:
            return None
        return ClockStep(datetime.fromtimestamp(wall, UTC), round(step, 3))


async def watch_clock(
    record: Callable[[ClockStep], Awaitable[None]],
    *,
    watch: ClockWatch | None = None,
    every_s: float = CHECK_EVERY_S,
) -> None:
    """Check forever; log each step and hand it to `record` (which must not raise)."""
    watch = watch or ClockWatch()
    while True:
        await asyncio.sleep(every_s)
        step = watch.check()
        if step is None:
            continue
        log.warning(
            "clock_step",
            step_s=step.step_s,
            detected_at=step.detected_at.isoformat(),
            direction="back" if step.step_s < 0 else "forward",
            hint="events keep wall time; reports flag the days this touched (clock-step)",
        )
        await record(step)
