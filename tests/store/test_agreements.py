"""Corrections both sides agree to (issue 22 item 5), on PostgreSQL and SQLite: who may
take which step, what counts in the reports meanwhile, the audit rows, the seals, and
a refused correction that leaves the day as it was."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import insert

from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.reports.rules import Rules
from gateway.reports.service import build_report
from gateway.store.audit import Actor
from gateway.store.correction_steps import NotYoursError
from gateway.store.seal_check import verify
from gateway.store.tables import corrections
from tests.reports.helpers import MADRID, clock, local
from tests.store.support import open_stores, sql

HR = Actor("rrhh", "192.0.2.7")
ANA = Actor("ana.garcia", "192.0.2.8")
RULES = Rules(zone=MADRID)
DAY = "2026-11-23"


async def _seed(stores: object) -> None:
    s = stores  # type: ignore[assignment]
    for uid, name in (("ana", "Ana García"), ("bob", "Bob Ruiz")):
        await s.lifecycle.add_person(uid, name, HR)  # type: ignore[attr-defined]
    await s.swipes.record_events([clock("ana", "in", local(DAY, "08:00"))])  # type: ignore[attr-defined]


async def _day(stores: object) -> tuple[timedelta, list[str]]:
    report = await build_report(stores, RULES, date(2026, 11, 23), date(2026, 11, 23), uid="ana")  # type: ignore[arg-type]
    return report.days[0].worked, report.days[0].flags


async def test_hr_proposes_the_worker_accepts_and_only_then_it_counts(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        new = await stores.corrections.add_missing("ana", "out", local(DAY, "15:00"), "forgot", HR)
        row = await stores.corrections.get(new)
        assert (row.state, row.proposed_by, row.waits_for) == ("pending", "company", "worker")
        assert await _day(stores) == (timedelta(0), ["missing-out"])  # pending: not counted
        assert [c.id for c in await stores.corrections.pending(waiting_for="worker")] == [new]

        with pytest.raises(ConflictError, match="cannot also agree"):
            await stores.corrections.decide(new, "accepted", HR, side="company")
        with pytest.raises(NotYoursError):
            await stores.corrections.decide(new, "accepted", ANA, side="worker", person_uid="bob")
        with pytest.raises(ConflictError, match="only it may withdraw"):
            await stores.corrections.decide(new, "withdrawn", ANA, side="worker", person_uid="ana")
        done = await stores.corrections.decide(
            new, "accepted", ANA, side="worker", person_uid="ana"
        )
        assert done.state == "accepted" and done.in_force
        assert [(s.step, s.side, s.actor) for s in done.steps] == [
            ("proposed", "company", "rrhh"),
            ("accepted", "worker", "ana.garcia"),
        ]
        assert await _day(stores) == (timedelta(hours=7), ["corrected"])
        with pytest.raises(ConflictError, match="not waiting"):
            await stores.corrections.decide(
                new, "rejected", ANA, side="worker", person_uid="ana", note="x"
            )
        assert await stores.corrections.pending() == []
        actions = [(r.action, r.actor) for r in reversed(await stores.audit.recent())]
        assert ("correction.add", "rrhh") in actions and (
            "correction.accept",
            "ana.garcia",
        ) in actions
        # Every step is sealed into the chain, and the chain verifies.
        await stores.seals.seal_pending()
        report = await verify(stores.db)
        assert report.ok, report.findings
    kinds = sql(db_url, "SELECT kind, count(*) FROM seals GROUP BY kind ORDER BY kind")
    assert ("step", 2) in kinds


async def test_a_worker_request_waits_for_hr_who_may_reject_it_with_a_reason(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        asked = await stores.corrections.add_missing(
            "ana", "out", local(DAY, "16:30"), "left at half past four", ANA, side="worker"
        )
        row = await stores.corrections.get(asked)
        assert (row.state, row.waits_for, row.steps[0].note) == (
            "pending",
            "company",
            "left at half past four",
        )
        with pytest.raises(ConflictError, match="cannot also agree"):
            await stores.corrections.decide(asked, "accepted", ANA, side="worker", person_uid="ana")
        with pytest.raises(InvalidInputError, match="needs a reason"):
            await stores.corrections.decide(asked, "rejected", HR, side="company", note="  ")
        refused = await stores.corrections.decide(
            asked, "rejected", HR, side="company", note="the door log says 15:00"
        )
        assert refused.state == "rejected" and not refused.in_force
        assert refused.steps[-1].note == "the door log says 15:00"
        # A refused correction leaves the day as it was.
        assert await _day(stores) == (timedelta(0), ["missing-out"])
        audit = await stores.audit.recent()
        assert audit[0].action == "correction.reject"
        assert audit[0].details["note"] == "the door log says 15:00"


async def test_withdrawn_and_rejected_voids_free_the_event_again(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        (event,) = [
            e async for e in stores.events.events_between(local(DAY, "07:59"), local(DAY, "08:01"))
        ]
        first = await stores.corrections.void(event.id, "mistake", HR)
        with pytest.raises(ConflictError, match="already has a void waiting"):
            await stores.corrections.void(event.id, "again", HR)
        await stores.corrections.decide(first, "withdrawn", HR, side="company")
        second = await stores.corrections.void(event.id, "mistake, really", HR)
        await stores.corrections.decide(second, "accepted", ANA, side="worker", person_uid="ana")
        with pytest.raises(ConflictError, match="already voided"):
            await stores.corrections.void(event.id, "third", HR)
        assert await _day(stores) == (timedelta(0), ["corrected"])  # the only tap voided
        with pytest.raises(NotFoundError):
            await stores.corrections.decide(10**9, "accepted", HR, side="company")


async def test_two_answers_at_once_record_one(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        new = await stores.corrections.add_missing("ana", "out", local(DAY, "15:00"), "forgot", HR)

        async def answer(decision: str) -> str:
            try:
                await stores.corrections.decide(
                    new,
                    decision,
                    ANA,
                    side="worker",
                    person_uid="ana",
                    note="no",  # type: ignore[arg-type]
                )
                return decision
            except ConflictError:
                return "refused"

        results = await asyncio.gather(answer("accepted"), answer("rejected"))
        assert sorted(results).count("refused") == 1
    assert sql(db_url, "SELECT count(*) FROM correction_steps WHERE step <> 'proposed'") == [(1,)]


async def test_corrections_made_before_agreement_stay_in_force(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        # What a v4 database held: a correction with no steps at all.
        async with stores.db.tx(write=True) as conn:
            new = (
                await conn.execute(
                    insert(corrections)
                    .values(
                        person_uid="ana",
                        kind="add",
                        direction="out",
                        at=local(DAY, "15:00"),
                        reason="old",
                        created_by="admin",
                    )
                    .returning(corrections.c.id)
                )
            ).scalar_one()
        row = await stores.corrections.get(new)
        assert (row.state, row.in_force) == ("legacy", True)
        assert await _day(stores) == (timedelta(hours=7), ["corrected"])
