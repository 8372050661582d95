"""TimetableStore: replacing and reading the timetable."""

from __future__ import annotations

from datetime import time

import pytest

from gateway.errors import InvalidInputError, NotFoundError
from gateway.store.audit import Actor
from gateway.store.models import TimetableEntry
from tests.store.support import open_stores


async def test_the_timetable_is_replaced_whole_or_per_person(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        await stores.lifecycle.add_person("bob", "Bob", Actor.cli())
        morning = TimetableEntry("ana", 1, time(8, 15), time(14, 45), "A1")
        night = TimetableEntry("bob", 5, time(22, 0), time(6, 0), "Lab")  # crosses midnight
        assert await stores.timetable.replace_timetable([morning, night]) == 2
        assert await stores.timetable.timetable() == [morning, night]
        assert await stores.timetable.timetable(uid="bob") == [night]
        assert await stores.timetable.timetable(weekday=1) == [morning]

        evening = TimetableEntry("ana", 1, time(16, 0), time(22, 15))
        assert await stores.timetable.replace_timetable([evening], uids=["ana"]) == 1
        assert await stores.timetable.timetable() == [evening, night]

        # Refused changes leave the timetable as it was.
        with pytest.raises(NotFoundError, match="ghost"):
            await stores.timetable.replace_timetable(
                [TimetableEntry("ghost", 2, time(9), time(10))]
            )
        with pytest.raises(InvalidInputError, match="outside"):
            await stores.timetable.replace_timetable([morning], uids=["bob"])
        with pytest.raises(InvalidInputError, match="weekday"):
            await stores.timetable.replace_timetable([TimetableEntry("ana", 0, time(9), time(10))])
        with pytest.raises(InvalidInputError, match="start and end"):
            await stores.timetable.replace_timetable([TimetableEntry("ana", 2, time(9), time(9))])
        assert await stores.timetable.timetable() == [evening, night]
        assert await stores.timetable.replace_timetable([]) == 0
        assert await stores.timetable.timetable() == []
