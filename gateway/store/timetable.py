"""The timetable: who is expected where and when (reports compare it with the events)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select

from gateway.errors import InvalidInputError, NotFoundError
from gateway.store import validate
from gateway.store.database import Database
from gateway.store.models import TimetableEntry
from gateway.store.tables import timetable

# Rows per INSERT statement: far below SQLite's and PostgreSQL's bind-parameter limits.
_INSERT_CHUNK = 500


class TimetableStore:
    """replace_timetable and timetable."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def replace_timetable(
        self, entries: Sequence[TimetableEntry], *, uids: Collection[str] | None = None
    ) -> int:
        """Replace the whole timetable, or only these people's rows; one transaction.

        Returns the number of entries stored.
        """
        checked = [validate.timetable_entry(e) for e in entries]
        scope = None if uids is None else {validate.uid(u) for u in uids}
        if scope is not None:
            outside = sorted({e.person_uid for e in checked} - scope)
            if outside:
                raise InvalidInputError(
                    f"timetable entries for {', '.join(outside)} are outside the people replaced"
                )
        async with self._db.tx(write=True) as conn:
            wanted = {e.person_uid for e in checked} | (scope or set())
            missing = await self._db.missing_uids(wanted, conn)
            if missing:
                raise NotFoundError(f"no person with uid {', '.join(sorted(missing))}")
            remove = delete(timetable)
            if scope is not None:
                remove = remove.where(timetable.c.person_uid.in_(scope))
            await conn.execute(remove)
            for start in range(0, len(checked), _INSERT_CHUNK):
                await conn.execute(
                    insert(timetable),
                    [
                        {
                            "person_uid": e.person_uid,
                            "weekday": e.weekday,
                            "start_time": e.start,
                            "end_time": e.end,
                            "room": e.room,
                        }
                        for e in checked[start : start + _INSERT_CHUNK]
                    ],
                )
        return len(checked)

    async def timetable(
        self,
        *,
        uid: str | None = None,
        weekday: int | None = None,
        uid_range: tuple[str, str] | None = None,
    ) -> list[TimetableEntry]:
        """`uid_range` (first, last, both included): a page of a list's people."""
        query = select(timetable).order_by(
            timetable.c.weekday, timetable.c.start_time, timetable.c.person_uid, timetable.c.id
        )
        if uid is not None:
            query = query.where(timetable.c.person_uid == uid)
        if uid_range is not None:
            # In code point order, as the range's ends were chosen (events.py says why).
            person: ColumnElement[Any] = timetable.c.person_uid
            if self._db.dialect == "postgresql":
                person = timetable.c.person_uid.collate("C")
            query = query.where(person >= uid_range[0], person <= uid_range[1])
        if weekday is not None:
            query = query.where(timetable.c.weekday == validate.weekday(weekday))
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [
            TimetableEntry(
                person_uid=r.person_uid,
                weekday=r.weekday,
                start=r.start_time,
                end=r.end_time,
                room=r.room,
            )
            for r in rows
        ]
