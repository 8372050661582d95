"""`timetable import` of a long file against real databases (both backends)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gateway.importing.timetable import import_timetable
from gateway.store.stores import Stores
from tests.reports.helpers import row, seeded

T = TypeVar("T")


def run(url: str, body: Callable[[Stores], Awaitable[T]]) -> T:
    async def main() -> T:
        stores = await seeded(url)
        try:
            return await body(stores)
        finally:
            await stores.close()

    return asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_timetable_import_validates_every_row_and_writes_nothing_on_a_bad_file(
    db_url: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("uid,weekday,start,end,room\nana,lun,08:15,14:45,Lab 1\nluis,7,22:00,06:00,\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("ana,Tue,09:00,10:00,Lab 3\nnobody,Mon,08:00,09:00,X\nana,Mon,8,9,X\n")
    other = tmp_path / "other.csv"
    other.write_text("ana,Fri,10:00,11:00,Lab 9\n")

    async def body(stores: Stores) -> None:
        done = await import_timetable(stores, good)
        assert (done.rows, done.uids, done.problems) == (2, ["ana", "luis"], [])
        before = await stores.timetable.timetable()
        failed = await import_timetable(stores, bad)
        assert [p.line for p in failed.problems] == [2, 3]
        assert await stores.timetable.timetable() == before
        dry = await import_timetable(stores, other, dry_run=True)
        assert dry.rows == 1 and await stores.timetable.timetable() == before
        # Only Ana's rows are replaced; Luis keeps his.
        await import_timetable(stores, other)
        assert await stores.timetable.timetable() == [
            row("ana", 5, "10:00", "11:00", "Lab 9"),
            row("luis", 7, "22:00", "06:00", ""),
        ]

    run(db_url, body)
