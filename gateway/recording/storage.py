"""What the recording units need from the database, and what they know of its health.

`SwipeStorage` is the swipe path's whole surface: gateway.store.swipes.SwipeStore
implements it, and so does the recording units' in-memory test double
(tests/support/storage.py). `DatabaseHealth` is the one place that decides whether
the database is "up" for the recorder, the drainer and the directory refresher alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from gateway.domain import ClockEvent, Person, UnknownSwipe
from gateway.errors import DatabaseUnavailableError, GatewayError
from gateway.logs import get_logger

log = get_logger("recorder")


class SwipeStorage(Protocol):
    """The part of gateway.store.swipes.SwipeStore the recording units use."""

    async def check(self) -> int: ...
    async def find_person_by_card(self, card_key: str) -> Person | None: ...
    async def record_events(self, events: Sequence[ClockEvent]) -> list[bool]: ...
    async def record_swipes(self, swipes: Sequence[ClockEvent]) -> list[Person | None]: ...
    async def record_unknown(self, swipe: UnknownSwipe) -> None: ...
    async def card_directory(self) -> dict[str, Person]: ...
    @property
    def swipe_lanes(self) -> int: ...


def is_permanent(error: BaseException) -> bool:
    """The database refused this data (replaying it again will not help)."""
    return isinstance(error, GatewayError) and not isinstance(error, DatabaseUnavailableError)


class DatabaseHealth:
    """Whether the database answers, as the recording units last saw it.

    A failure calls `on_failure` (the drainer's wake-up: it then probes the database
    until it is back); a success after failures logs `database_back`.
    """

    def __init__(self, wait_s: float, on_failure: Callable[[], None]) -> None:
        self.ok = True
        self.last_write_at: datetime | None = None
        self._wait_s = wait_s
        self._on_failure = on_failure

    def failed(self, where: str, exc: BaseException) -> None:
        if self.ok:
            error = "no answer within the wait" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("database_unavailable", during=where, error=error, wait_s=self._wait_s)
        self.ok = False
        self._on_failure()

    def wrote(self, spool_depth: int) -> None:
        """A write was committed: the database is up."""
        self.last_write_at = datetime.now(UTC)
        self.answered(spool_depth)

    def answered(self, spool_depth: int) -> None:
        """The database answered (a probe, not a write)."""
        if not self.ok:
            log.info("database_back", spool_depth=spool_depth)
        self.ok = True
