"""The login throttle's state: per subject (a client address, a username) the attempts
counted and the time before which the next one is refused.

`reserve` counts an attempt *before* the password is checked, atomically for all the
subjects of the attempt: concurrent attempts queue on the rows' locks (PostgreSQL's
SELECT .. FOR UPDATE; SQLite's single writer), so each one sees the count the previous
one left, and 200 guesses sent at once are counted one by one, not all as the first.
The delays themselves are the caller's policy (gateway.web.security). Kept in the
database: a restart forgets nothing, and all web processes of a site share it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from gateway.store.database import Database
from gateway.store.tables import login_throttle

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


class ThrottleStore:
    """reserve, clear."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve(
        self,
        subjects: Sequence[str],
        *,
        now: datetime,
        delay_after: Callable[[int], float],
        forget: timedelta,
    ) -> float:
        """Count one attempt for every subject, or refuse it: 0.0 when it may go ahead,
        else the seconds until the earliest moment it may (nothing counted then).

        `delay_after(n)` is the wait imposed after the n-th attempt; a subject quiet
        for `forget` starts again from zero.
        """
        ordered = sorted(set(subjects))  # one lock order for everyone: no deadlock
        async with self._db.tx(write=True) as conn:
            await conn.execute(
                self._db.insert(login_throttle)
                .values(
                    [
                        {"subject": s, "attempts": 0, "wait_until": _EPOCH, "last_at": now}
                        for s in ordered
                    ]
                )
                .on_conflict_do_nothing(index_elements=["subject"])
            )
            rows = (
                await conn.execute(
                    select(login_throttle)
                    .where(login_throttle.c.subject.in_(ordered))
                    .order_by(login_throttle.c.subject)
                    .with_for_update()
                )
            ).all()
            wait = max(float((r.wait_until - now).total_seconds()) for r in rows)
            if wait > 0:
                return wait
            for r in rows:
                attempts = 1 if now - r.last_at > forget else r.attempts + 1
                await conn.execute(
                    update(login_throttle)
                    .where(login_throttle.c.subject == r.subject)
                    .values(
                        attempts=attempts,
                        wait_until=now + timedelta(seconds=delay_after(attempts)),
                        last_at=now,
                    )
                )
            # Forget the quiet ones here, at the rate of attempts: the table stays the
            # size of the last hour's attempts.
            quiet = login_throttle.c.last_at < now - forget
            await conn.execute(delete(login_throttle).where(quiet))
        return 0.0

    async def clear(self, subjects: Sequence[str]) -> None:
        """A successful sign-in: these subjects start again from zero."""
        async with self._db.tx(write=True) as conn:
            await conn.execute(delete(login_throttle).where(login_throttle.c.subject.in_(subjects)))
