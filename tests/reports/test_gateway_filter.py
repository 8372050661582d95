"""Reports, who and export restricted to one gateway (--gateway), on both backends."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta

from gateway.domain import ClockEvent
from gateway.reports.rules import Rules
from gateway.reports.service import build_report, export_events, presence
from gateway.store.stores import Stores
from tests.reports.helpers import MADRID, clock, local, row, seeded

RULES = Rules(zone=MADRID)


def at(gateway: str, event: ClockEvent) -> ClockEvent:
    return dataclasses.replace(event, gateway_id=gateway)


def test_reports_who_and_export_by_gateway(db_url: str) -> None:
    async def body(stores: Stores) -> None:
        await stores.timetable.replace_timetable(
            [row("ana", 1, "08:00", "14:00"), row("luis", 1, "08:00", "14:00")]
        )
        await stores.swipes.record_events(
            [
                at("hall-a", clock("ana", "in", local("2026-11-23", "08:00"))),
                at("hall-a", clock("ana", "out", local("2026-11-23", "12:00"))),
                at("hall-b", clock("luis", "in", local("2026-11-23", "08:30"))),
                at("hall-b", clock("luis", "out", local("2026-11-23", "10:30"))),
                clock("eva", "in", local("2026-11-23", "09:00")),  # from before gateway ids
            ]
        )
        day = date(2026, 11, 23)
        everyone = await build_report(stores, RULES, day, day)
        only_a = await build_report(stores, RULES, day, day, gateway="hall-a")
        only_b = await build_report(stores, RULES, day, day, gateway="hall-b")
        worked = {d.person_uid: d.worked for d in everyone.days if d.worked}
        assert worked == {"ana": timedelta(hours=4), "luis": timedelta(hours=2)}
        assert {d.person_uid: d.worked for d in only_a.days if d.worked} == {
            "ana": timedelta(hours=4)
        }
        assert {d.person_uid: d.worked for d in only_b.days if d.worked} == {
            "luis": timedelta(hours=2)
        }

        here_a = await presence(stores, RULES, local("2026-11-23", "09:00"), gateway="hall-a")
        assert [(r.uid, r.present) for r in here_a.scheduled] == [("ana", True), ("luis", False)]
        here_all = await presence(stores, RULES, local("2026-11-23", "09:00"))
        assert [(r.uid, r.present) for r in here_all.scheduled] == [("ana", True), ("luis", True)]

        nothing = timedelta(0)
        exported = [e async for e in export_events(stores, 0, settle=nothing, gateway="hall-b")]
        assert [(e.person_uid, e.gateway_id) for e in exported] == [
            ("luis", "hall-b"),
            ("luis", "hall-b"),
        ]
        old = [e async for e in export_events(stores, 0, settle=nothing, gateway="default")]
        assert [e.person_uid for e in old] == ["eva"]

    async def main() -> None:
        stores = await seeded(db_url)
        try:
            await body(stores)
        finally:
            await stores.close()

    asyncio.run(asyncio.wait_for(main(), timeout=60))
