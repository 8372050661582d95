"""The web's stores on PostgreSQL and SQLite: accounts, audit, corrections (and their
effect on reports and `who`), person rename/deactivate/erase (the retention purge:
tests/register/test_retention.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.reports.rules import Rules
from gateway.reports.service import build_report, presence
from gateway.store.audit import Actor
from gateway.store.lifecycle import is_erased
from gateway.store.models import TimetableEntry
from tests.reports.helpers import MADRID, clock, local
from tests.store.support import count, open_stores, sql

ADMIN = Actor("admin", "192.0.2.7")
ANA = Actor("ana", "192.0.2.8")
RULES = Rules(zone=MADRID)


async def test_accounts_are_added_changed_and_removed_with_audit_rows(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.accounts.add("root", "hash-1", Actor.cli(), role="admin")
        with pytest.raises(ConflictError):
            await stores.accounts.add("root", "hash-x", ADMIN, role="admin")
        with pytest.raises(InvalidInputError):
            await stores.accounts.add("two words", "h", ADMIN, role="admin")

        async def stored_hash(name: str) -> str | None:
            found = await stores.accounts.credentials(name)
            return None if found is None else found.password_hash

        assert await stored_hash("root") == "hash-1"
        await stores.accounts.set_password("root", "hash-2", ADMIN)
        assert await stored_hash("root") == "hash-2"
        assert await stored_hash("nobody") is None
        assert await stored_hash("'; drop table accounts; --") is None
        with pytest.raises(NotFoundError):
            await stores.accounts.set_password("nobody", "h", ADMIN)
        await stores.accounts.remove("root", ADMIN)
        with pytest.raises(NotFoundError):
            await stores.accounts.remove("root", ADMIN)
        rows = await stores.audit.recent()
    assert [(r.action, r.target) for r in reversed(rows)] == [
        ("account.add", "root"),
        ("account.passwd", "root"),
        ("account.remove", "root"),
    ]
    assert rows[0].actor == "admin" and rows[0].address == "192.0.2.7"
    assert rows[-1].actor.startswith("cli:")
    # A hash is never written to the audit log.
    assert not sql(db_url, "SELECT * FROM audit_log WHERE details LIKE ?", ("%hash%",))


async def _seed(stores: object) -> None:
    s = stores  # type: ignore[assignment]
    await s.lifecycle.add_person("ana", "Ana García", ADMIN)  # type: ignore[attr-defined]
    await s.lifecycle.assign_card("04A1B2C3", "ana", ADMIN)  # type: ignore[attr-defined]


async def test_a_correction_changes_the_report_and_marks_the_day(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        day = "2026-11-23"
        await stores.swipes.record_events(
            [
                clock("ana", "in", local(day, "08:00")),
                clock("ana", "in", local(day, "08:30")),  # a mistaken second in
            ]
        )
        first = await build_report(stores, RULES, date(2026, 11, 23), date(2026, 11, 23))
        assert first.days[0].flags == ["missing-outx2"]

        mistaken = [
            e async for e in stores.events.events_between(local(day, "08:29"), local(day, "08:31"))
        ]
        voided = await stores.corrections.void(mistaken[0].id, "tapped twice", ADMIN)
        with pytest.raises(ConflictError, match="already has a void waiting"):
            await stores.corrections.void(mistaken[0].id, "again", ADMIN)
        added = await stores.corrections.add_missing(
            "ana", "out", local(day, "15:00"), "forgot", ADMIN
        )
        with pytest.raises(InvalidInputError, match="reason"):
            await stores.corrections.add_missing("ana", "out", local(day, "15:00"), "  ", ADMIN)
        with pytest.raises(InvalidInputError, match="future"):
            await stores.corrections.add_missing(
                "ana", "in", datetime.now(UTC) + timedelta(days=1), "x", ADMIN
            )
        with pytest.raises(NotFoundError):
            await stores.corrections.add_missing("nobody", "in", local(day, "15:00"), "x", ADMIN)

        # Both wait for Ana's agreement (issue 22 item 5): the report is unchanged.
        waiting = await build_report(stores, RULES, date(2026, 11, 23), date(2026, 11, 23))
        assert waiting.days[0].flags == ["missing-outx2"]
        for fix in (voided, added):
            await stores.corrections.decide(fix, "accepted", ANA, side="worker", person_uid="ana")
        report = await build_report(stores, RULES, date(2026, 11, 23), date(2026, 11, 23))
        only = report.days[0]
        assert only.worked == timedelta(hours=7)
        assert only.flags == ["corrected"]
        listed = await stores.corrections.recent()
        assert [c.kind for c in listed] == ["add", "void"]
        assert listed[1].at == local(day, "08:30") and listed[1].direction == "in"
        actions = [r.action for r in await stores.audit.recent()]
        assert actions[:4] == [
            "correction.accept",
            "correction.accept",
            "correction.add",
            "correction.void",
        ]
    # The raw events are untouched.
    assert count(db_url, "clock_events") == 2


async def test_who_applies_corrections(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        now = datetime.now(UTC)
        fix = await stores.corrections.add_missing(
            "ana", "in", now - timedelta(minutes=5), "no card", ADMIN
        )
        waiting = await presence(stores, RULES, now)
        assert waiting.unscheduled_in == []  # not in force until Ana agrees
        await stores.swipes.record_events([clock("ana", "in", now - timedelta(minutes=9))])
        tapped = await presence(stores, RULES, now)
        # In by her own tap; the pending correction marks nothing yet.
        assert [(r.uid, r.corrected) for r in tapped.unscheduled_in] == [("ana", False)]
        await stores.corrections.decide(fix, "accepted", ANA, side="worker", person_uid="ana")
        report = await presence(stores, RULES, now)
        assert [(r.uid, r.corrected) for r in report.unscheduled_in] == [("ana", True)]


async def test_rename_deactivate_and_erase(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _seed(stores)
        await stores.swipes.record_events([clock("ana", "in", local("2026-11-23", "08:00"))])
        await stores.corrections.add_missing("ana", "out", local("2026-11-23", "15:00"), "x", ADMIN)
        assert await stores.lifecycle.rename("ana", "Ana G.", ADMIN) == "Ana García"
        await stores.lifecycle.set_active("ana", False, ADMIN)
        assert await stores.swipes.find_person_by_card("04A1B2C3") is None
        await stores.lifecycle.set_active("ana", True, ADMIN)

        await stores.timetable.replace_timetable([TimetableEntry("ana", 1, time(8), time(9))])
        erased = await stores.lifecycle.erase("ana", ADMIN)
        assert (erased.cards_revoked, erased.events_kept, erased.corrections_kept) == (1, 1, 1)
        assert erased.timetable_rows == 1
        with pytest.raises(ConflictError, match="erased"):
            await stores.lifecycle.erase("ana", ADMIN)
        with pytest.raises(ConflictError, match="erased"):
            await stores.lifecycle.rename("ana", "Back", ADMIN)
        assert await stores.swipes.find_person_by_card("04A1B2C3") is None
        # The web's people page leaves erased people out by the rule of the store.
        assert [p.uid for p in await stores.people.people() if is_erased(p)] == ["ana"]
    # Schema v3 (the register is sealed and append-only, docs/REGISTER.md): within the
    # retention period the register stays exactly as it was, under the person's uid;
    # what it does not need is gone and the person is marked erased and inactive.
    assert sql(db_url, "SELECT name, active FROM people WHERE uid = 'ana'") == [("Ana G.", False)]
    assert sql(db_url, "SELECT count(*) FROM people WHERE erased_at IS NOT NULL") == [(1,)]
    assert sql(db_url, "SELECT count(*) FROM clock_events WHERE person_uid = 'ana'") == [(1,)]
    assert sql(db_url, "SELECT count(*) FROM corrections WHERE person_uid = 'ana'") == [(1,)]
    assert sql(db_url, "SELECT count(*) FROM timetable WHERE person_uid = 'ana'") == [(0,)]
    assert sql(
        db_url, "SELECT count(*) FROM cards WHERE revoked_at IS NULL AND person_uid = 'ana'"
    ) == [(0,)]
    assert sql(db_url, "SELECT action FROM audit_log ORDER BY id DESC LIMIT 1") == [
        ("person.erase",)
    ]
