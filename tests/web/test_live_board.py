"""The live board's document is board_view's, in every mode, as taps arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.config import BoardMode
from gateway.reports.rules import Rules
from gateway.store.audit import Actor
from gateway.web.board import LiveBoard, board_view
from tests.reports.helpers import MADRID, clock, row, seeded

RULES = Rules(zone=MADRID, excluded_rooms=frozenset({"Guardia"}))
# A Monday 10:00 in Madrid.
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("mode", ["names", "initials", "counts", "login"])
async def test_the_live_board_says_what_board_view_says(db_url: str, mode: BoardMode) -> None:
    stores = await seeded(db_url)
    try:
        await stores.timetable.replace_timetable(
            [
                row("ana", 1, "08:00", "14:00"),
                row("luis", 1, "09:00", "11:00", "Guardia"),
                row("eva", 1, "09:30", "12:00", "Lab 2"),
            ]
        )
        live = LiveBoard(stores, RULES, mode)
        taps = [("ana", "in"), ("pau", "in"), ("luis", "in"), ("ana", "out"), ("eva", "in")]
        for k, (uid, way) in enumerate([*taps, ("rename", "")]):
            at = AT + timedelta(minutes=k)
            if uid == "rename":
                await stores.lifecycle.rename("eva", "Eva de la Cruz", Actor.cli())
                live.invalidate()  # as the web's own write does
            else:
                await stores.swipes.record_events([clock(uid, way, at)])
            want = await board_view(stores, RULES, mode, at + timedelta(seconds=30))
            got = await live(at + timedelta(seconds=30))
            assert got == want, f"after {uid} {way}"
        assert got["counts"] == {"absent": 1, "present": 1, "unscheduled": 2}
    finally:
        await stores.close()
