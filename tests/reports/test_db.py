"""Reports, presence and export against real databases (both backends)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import TypeVar

import psycopg
import pytest

from bench.kit.pgcluster import PgCluster
from gateway.errors import NotFoundError
from gateway.reports.rules import Rules
from gateway.reports.service import EventSource, build_report, export_events, presence
from gateway.store.audit import Actor
from gateway.store.models import StoredEvent
from gateway.store.stores import Stores
from tests.register.support import attack
from tests.reports.helpers import MADRID, clock, local, row, seeded
from tests.store.support import sql

RULES = Rules(zone=MADRID, excluded_rooms=frozenset({"Guardia"}))
H = timedelta(hours=1)
T = TypeVar("T")
_icu_counter = itertools.count()


def run(url: str, body: Callable[[Stores], Awaitable[T]]) -> T:
    async def main() -> T:
        stores = await seeded(url)
        try:
            return await body(stores)
        finally:
            await stores.close()

    return asyncio.run(asyncio.wait_for(main(), timeout=60))


@pytest.mark.parametrize("source", ["swipes_between", "events_between"])
def test_report_rules_and_edge_cases(db_url: str, source: str) -> None:
    # Both of the repository's event streams must give the same report.
    async def body(stores: Stores) -> None:
        await check(stores, getattr(stores.events, source))

    async def check(stores: Stores, read: EventSource | None) -> None:
        await stores.timetable.replace_timetable([row("ana", 1, "08:15", "14:45", "Lab 1")])
        await stores.swipes.record_events(
            [
                # Saturday night over the October DST change: 9 real hours.
                clock("luis", "in", local("2026-10-24", "22:00")),
                clock("luis", "out", local("2026-10-25", "06:00")),
                # Monday 26: Ana late by 20 minutes, taps twice, forgets nothing.
                clock("ana", "in", local("2026-10-26", "08:35")),
                clock("ana", "in", local("2026-10-26", "08:35"), duplicate=True),
                clock("ana", "out", local("2026-10-26", "14:45")),
                # Tuesday 27: Eva forgets to clock out; Wednesday 28 a stray clock-out.
                clock("eva", "in", local("2026-10-27", "09:00")),
                clock("eva", "in", local("2026-10-28", "09:00")),
                clock("eva", "out", local("2026-10-28", "13:00")),
                clock("pau", "out", local("2026-10-28", "18:00")),
                # Saturday 31 into November 1st: one night across the month end.
                clock("pau", "in", local("2026-10-31", "23:00")),
                clock("pau", "out", local("2026-11-01", "07:00")),
            ]
        )
        now = local("2026-12-01", "12:00")
        report = await build_report(
            stores, RULES, date(2026, 10, 24), date(2026, 11, 1), now=now, source=read
        )
        got = [
            (d.person_uid, d.day.isoformat(), d.worked, d.flags)
            for d in report.days
            if d.person_uid != "ana" or d.day.day == 26
        ]
        assert got == [
            ("ana", "2026-10-26", timedelta(hours=6, minutes=10), ["duplicates=1", "late=20min"]),
            ("eva", "2026-10-27", timedelta(), ["missing-out"]),
            ("eva", "2026-10-28", 4 * H, []),
            ("luis", "2026-10-24", 9 * H, []),
            ("pau", "2026-10-28", timedelta(), ["out-without-in"]),
            ("pau", "2026-10-31", 8 * H, []),
        ]
        # Ana's scheduled Monday 2026-10-26 is the only Monday in range.
        assert [d.day.day for d in report.days if d.person_uid == "ana"] == [26]
        months = {(m.person_uid, m.month): m for m in report.months}
        assert months["pau", "2026-10"].worked == 8 * H
        assert ("pau", "2026-11") not in months
        assert months["eva", "2026-10"].missing_out == 1
        assert report.names["ana"] == "Ana García"

        only = await build_report(
            stores, RULES, date(2026, 10, 24), date(2026, 11, 1), uid="luis", now=now, source=read
        )
        assert [(d.person_uid, d.worked) for d in only.days] == [("luis", 9 * H)]
        # A page of a list (web /reports): only those people's days, as in the whole.
        pair = ("ana", "eva")
        some = await build_report(
            stores, RULES, date(2026, 10, 24), date(2026, 11, 1), now=now, source=read, uids=pair
        )
        assert some.days == [d for d in report.days if d.person_uid in pair]
        assert some.months == [m for m in report.months if m.person_uid in pair]
        assert some.days and set(some.names) == set(pair)
        stored = await build_report(  # from the store: the uid range in its query
            stores, RULES, date(2026, 10, 24), date(2026, 11, 1), now=now, uids=pair
        )
        whole = await build_report(stores, RULES, date(2026, 10, 24), date(2026, 11, 1), now=now)
        assert stored.days == [d for d in whole.days if d.person_uid in pair] and stored.days
        with pytest.raises(NotFoundError):
            await build_report(stores, RULES, date(2026, 10, 1), date(2026, 10, 2), uid="nobody")

    run(db_url, body)


def test_an_empty_range(db_url: str) -> None:
    async def body(stores: Stores) -> None:
        await stores.swipes.record_events([clock("ana", "in", local("2026-11-02", "08:00"))])
        report = await build_report(stores, RULES, date(2026, 6, 1), date(2026, 6, 30))
        assert report.days == [] and report.months == []

    run(db_url, body)


def test_who_is_here(db_url: str) -> None:
    async def body(stores: Stores) -> None:
        # 2026-11-23 is a Monday.
        await stores.timetable.replace_timetable(
            [
                row("ana", 1, "08:15", "14:45", "Lab 1"),
                row("luis", 1, "08:15", "10:15", "Lab 2"),
                row("eva", 1, "09:00", "11:00", "Guardia"),
                row("pau", 7, "22:00", "06:00", "Porteria"),  # Sunday night
            ]
        )
        await stores.swipes.record_events(
            [
                clock("pau", "in", local("2026-11-22", "21:50")),
                clock("ana", "in", local("2026-11-23", "08:05")),
                clock("eva", "in", local("2026-11-23", "08:55")),
                clock("luis", "in", local("2026-11-23", "08:10")),
                clock("luis", "out", local("2026-11-23", "09:30")),
            ]
        )
        at_night = await presence(stores, RULES, local("2026-11-23", "03:00"))
        assert [(r.uid, r.room, r.present) for r in at_night.scheduled] == [
            ("pau", "Porteria", True)
        ]
        at_ten = await presence(stores, RULES, local("2026-11-23", "10:00"))
        assert [(r.uid, r.name, r.present) for r in at_ten.scheduled] == [
            ("ana", "Ana García", True),
            ("luis", "Luis Pérez", False),
        ]
        # Eva is in, scheduled in an excluded room: not expected, but on the roll call
        # with her room. Pau never clocked out, but his shift ended at 06:00 and only
        # today's events count: not in.
        assert [(r.uid, r.room) for r in at_ten.unscheduled_in] == [("eva", "Guardia")]
        await stores.swipes.record_events([clock("luis", "in", local("2026-11-23", "11:30"))])
        at_noon = await presence(stores, RULES, local("2026-11-23", "12:00"))
        assert [r.uid for r in at_noon.scheduled] == ["ana"]
        # Eva's excluded block is over and she is still in; Luis came back unscheduled.
        assert [(r.uid, r.present) for r in at_noon.unscheduled_in] == [
            ("eva", True),
            ("luis", True),
        ]

    run(db_url, body)


def test_export_cursor_continuity(db_url: str) -> None:
    async def body(stores: Stores) -> None:
        def export(since: int, limit: int | None = None) -> AsyncIterator[StoredEvent]:
            return export_events(stores, since, limit, settle=timedelta(0))

        start = local("2026-11-23", "08:00")
        first = [clock("ana", "in" if i % 2 == 0 else "out", start + i * H) for i in range(25)]
        await stores.swipes.record_events(first)
        everything = [e async for e in export(0)]
        assert len(everything) == 25
        # Pages of 7 from the last id of the previous page cover it exactly once.
        pages, cursor = [], 0
        while True:
            page = [e async for e in export(cursor, 7)]
            if not page:
                break
            pages.extend(page)
            cursor = page[-1].id
        assert [e.id for e in pages] == [e.id for e in everything]
        assert [e.event_key for e in everything] == [e.event_key for e in first]
        # New events after the cursor: the next run gets exactly those.
        later = [clock("luis", "in", start + 30 * H), clock("luis", "out", start + 31 * H)]
        await stores.swipes.record_events(later)
        fresh = [e async for e in export(cursor)]
        assert [e.event_key for e in fresh] == [e.event_key for e in later]
        assert all(e.id > cursor for e in fresh)

    run(db_url, body)


def test_export_stops_before_events_too_recent_to_be_settled(db_url: str) -> None:
    async def body(stores: Stores) -> None:
        start = local("2026-11-23", "08:00")
        await stores.swipes.record_events([clock("ana", "in", start + i * H) for i in range(6)])
        # Age every row but the 5th by an hour, as if only that one were just stored:
        # past the register's append-only guards, as only a test may.
        ids = [row[0] for row in sql(db_url, "SELECT id FROM clock_events ORDER BY id")]
        attack(
            db_url,
            *(
                f"UPDATE clock_events SET stored_at = received_at WHERE id = {event_id}"
                for event_id in ids
                if event_id != ids[4]
            ),
        )
        settled = [e.id async for e in export_events(stores, 0, settle=timedelta(minutes=30))]
        assert settled == ids[:4]  # not past the recent one, though the 6th is old
        assert [e.id async for e in export_events(stores, 0, settle=timedelta(0))] == ids

    run(db_url, body)


@pytest.mark.postgres
def test_a_page_of_uids_on_a_database_that_sorts_otherwise(pg_cluster: PgCluster) -> None:
    # A page's uids come in code point order ("B" < "a" < "c"), and the store narrows
    # the read to their range; a database whose collation puts "a" before "B" (ICU,
    # as a server initialised with a real locale does) must not leave "a" out.
    name = f"icu_{next(_icu_counter)}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute(
            f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
            "ICU_LOCALE 'en-US' LOCALE 'C.utf8'"
        )
        with psycopg.connect(pg_cluster.url(name), autocommit=True) as db:
            premise = db.execute("SELECT 'a' BETWEEN 'B' AND 'c'").fetchone()
            assert premise is not None and premise[0] is False  # the premise: ICU's order

    async def body(stores: Stores) -> None:
        for i, uid in enumerate(("B", "a", "c")):
            await stores.lifecycle.add_person(uid, f"Person {uid}", Actor.cli())
            await stores.lifecycle.assign_card(f"04C1B2{i:02X}", uid, Actor.cli())
        await stores.swipes.record_events(
            [
                e
                for uid in ("B", "a", "c")
                for e in (
                    clock(uid, "in", local("2026-10-26", "08:00")),
                    clock(uid, "out", local("2026-10-26", "12:00")),
                )
            ]
        )
        await stores.timetable.replace_timetable([row("a", 1, "08:00", "12:00", "Lab 1")])
        now = local("2026-12-01", "12:00")
        page = ("B", "a", "c")  # in code point order, as the page's cursor has them
        report = await build_report(
            stores, RULES, date(2026, 10, 26), date(2026, 10, 26), now=now, uids=page
        )
        assert sorted(d.person_uid for d in report.days) == ["B", "a", "c"]
        assert [d.scheduled for d in report.days if d.person_uid == "a"] != [timedelta()]

    run(pg_cluster.url(name), body)
