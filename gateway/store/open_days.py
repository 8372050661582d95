"""Forgotten clock-outs flagged once per person and day (open_day_notices, schema v5).

A notice is operational, not a register row: when it was flagged, when the worker was
mailed, and the proposed close (a company-side correction waiting for the worker, filed
in the same transaction as the notice, with its 'proposed' step and audit row). The
primary key (person, day) makes flagging idempotent: a second run, or two at once,
flag nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update

from gateway.store.audit import Actor, write_audit
from gateway.store.correction_steps import state_of, steps_of
from gateway.store.corrections import insert_missing
from gateway.store.database import Database
from gateway.store.tables import accounts, open_day_notices, people


@dataclass(frozen=True)
class NoticeRow:
    person_uid: str
    name: str
    day: date
    flagged_at: datetime
    mailed_at: datetime | None
    correction_id: int | None
    correction_state: str  # of the proposed close; '' without one
    username: str | None  # the worker's account, if any (its address, when it is one)


class OpenDayStore:
    """flag, mailed, notices."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def flag(
        self,
        uid: str,
        day: date,
        *,
        now: datetime,
        close_at: datetime | None,
        reason: str,
        actor: Actor,
    ) -> bool:
        """Flag (uid, day) and propose its close; False when it was flagged before."""
        async with self._db.tx(write=True) as conn:
            done = await conn.execute(
                self._db.insert(open_day_notices)
                .values(person_uid=uid, day=day, flagged_at=now)
                .on_conflict_do_nothing(index_elements=["person_uid", "day"])
            )
            if not done.rowcount:
                return False
            correction_id = None
            if close_at is not None:
                correction_id = await insert_missing(
                    conn, uid, "out", close_at, reason, actor, side="company"
                )
                await conn.execute(
                    update(open_day_notices)
                    .where(open_day_notices.c.person_uid == uid, open_day_notices.c.day == day)
                    .values(correction_id=correction_id)
                )
            await write_audit(
                conn,
                actor,
                "open_day.flag",
                uid,
                {"day": day.isoformat(), "correction_id": correction_id},
            )
        return True

    async def mailed(self, uid: str, day: date, at: datetime) -> None:
        async with self._db.tx(write=True) as conn:
            await conn.execute(
                update(open_day_notices)
                .where(open_day_notices.c.person_uid == uid, open_day_notices.c.day == day)
                .values(mailed_at=at)
            )

    async def notices(
        self, *, since: date | None = None, unmailed: bool = False, uid: str | None = None
    ) -> list[NoticeRow]:
        """Newest day first."""
        n = open_day_notices.c
        query = (
            select(
                n.person_uid,
                people.c.name,
                n.day,
                n.flagged_at,
                n.mailed_at,
                n.correction_id,
                accounts.c.username,
            )
            .join(people, people.c.uid == n.person_uid)
            .outerjoin(accounts, accounts.c.person_uid == n.person_uid)
            .order_by(n.day.desc(), n.person_uid)
        )
        if since is not None:
            query = query.where(n.day >= since)
        if unmailed:
            query = query.where(n.mailed_at.is_(None))
        if uid is not None:
            query = query.where(n.person_uid == uid)
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
            trails = await steps_of(conn, (r.correction_id for r in rows if r.correction_id))
        return [
            NoticeRow(
                r.person_uid,
                r.name,
                r.day,
                r.flagged_at,
                r.mailed_at,
                r.correction_id,
                state_of(trails.get(r.correction_id, [])) if r.correction_id else "",
                r.username,
            )
            for r in rows
        ]
