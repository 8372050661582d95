"""Waits bounded by time, never by a count of loop turns or a bare sleep.

A loop that gives up after N turns fails on a fast machine (N turns go by before the
thing happens) and a bare sleep fails on a slow one. Bound every wait by a generous
time instead, and say in the failure what was awaited:

    wait_until(lambda: status_path.exists(), 30, "the daemon's first status file")
    await wait_until_async(lambda: recorder.stats().spool_depth == 0, 30, "the spool to drain")

For loops that do work while they wait (swipe on one reader until the other is back),
`Deadline` gives the same failure message:

    deadline = Deadline(60, "the entrance reader to reconnect")
    while not reconnected():
        swipe_on_the_other_reader()
        deadline.check()
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    """A point in time (monotonic clock) and what is awaited until then."""

    def __init__(self, timeout_s: float, what: str) -> None:
        self.timeout_s = timeout_s
        self.what = what
        self.started = time.monotonic()
        self.at = self.started + timeout_s

    @property
    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def check(self, detail: str = "") -> None:
        """Fail the test, naming what was awaited, once the deadline has passed."""
        if self.passed:
            raise AssertionError(self.message(detail))

    def message(self, detail: str = "") -> str:
        text = f"timed out after {self.timeout_s:g} s waiting for {self.what}"
        return f"{text}: {detail}" if detail else text


def described(predicate: Callable[..., object]) -> str:
    """A readable name for a predicate: its source line (a lambda), else its repr."""
    try:
        line = inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)
    return line if len(line) <= 160 else line[:157] + "..."


def wait_until(
    predicate: Callable[[], T],
    timeout_s: float,
    what: str,
    *,
    interval_s: float = 0.02,
    detail: Callable[[], object] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    `detail`, if given, is called on failure and its value added to the message
    (the last status, the last log lines).
    """
    deadline = Deadline(timeout_s, what)
    while True:
        value = predicate()
        if value:
            return value
        if deadline.passed:
            raise AssertionError(deadline.message(str(detail()) if detail else ""))
        time.sleep(min(interval_s, deadline.left) or interval_s)


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout_s: float,
    what: str,
    *,
    interval_s: float = 0.02,
    detail: Callable[[], object] | None = None,
) -> T:
    """`wait_until` for the event loop; `predicate` may be a plain or an async function."""
    deadline = Deadline(timeout_s, what)
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if deadline.passed:
            raise AssertionError(deadline.message(str(detail()) if detail else ""))
        await asyncio.sleep(min(interval_s, deadline.left) or interval_s)
