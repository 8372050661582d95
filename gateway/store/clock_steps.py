"""Wall-clock steps the daemons noticed (schema v2's `clock_steps`), for the reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from gateway.errors import DatabaseUnavailableError
from gateway.store import failures
from gateway.store.database import Database
from gateway.store.tables import clock_steps


class ClockStepStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, gateway_id: str, detected_at: datetime, step_s: float) -> None:
        async with self._db.tx(write=True) as conn:
            await conn.execute(
                insert(clock_steps).values(
                    gateway_id=gateway_id, detected_at=detected_at, step_s=step_s
                )
            )

    async def between(
        self, start: datetime, end: datetime, *, gateway: str | None = None
    ) -> list[tuple[datetime, float]]:
        """(detected_at, step_s) of the steps in [start, end), of one gateway's clock
        with `gateway` (a step on hall-a's PC says nothing of hall-b's taps); none on a
        version-1 schema."""
        query = (
            select(clock_steps.c.detected_at, clock_steps.c.step_s)
            .where(clock_steps.c.detected_at >= start, clock_steps.c.detected_at < end)
            .order_by(clock_steps.c.detected_at)
        )
        if gateway is not None:
            query = query.where(clock_steps.c.gateway_id == gateway)
        try:
            async with self._db.tx() as conn:
                return [(r.detected_at, float(r.step_s)) for r in await conn.execute(query)]
        except DatabaseUnavailableError as exc:
            if _no_table(exc):
                return []  # a version-1 schema has no clock_steps: nothing to flag
            raise

    async def stepped_back(self, start: datetime, end: datetime) -> set[str]:
        """The gateways whose wall clock went back while stamping [start, end): a step
        noticed before `end` whose wall time before the step was past `start` (a step
        back is noticed at the stepped, earlier time, so a day's margin is read)."""
        query = select(clock_steps.c.gateway_id, clock_steps.c.detected_at, clock_steps.c.step_s)
        query = query.where(
            clock_steps.c.step_s < 0,
            clock_steps.c.detected_at >= start - timedelta(days=1),
            clock_steps.c.detected_at < end,
        )
        try:
            async with self._db.tx() as conn:
                rows = list(await conn.execute(query))
        except DatabaseUnavailableError as exc:
            if _no_table(exc):
                return set()
            raise
        return {r.gateway_id for r in rows if r.detected_at - timedelta(seconds=r.step_s) >= start}


def _no_table(exc: DatabaseUnavailableError) -> bool:
    return failures.is_missing_schema(exc.__cause__ or exc) or "clock_steps" in str(exc)
