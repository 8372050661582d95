"""People and cards on PostgreSQL and SQLite: added, assigned and revoked through the one
(audited) door, LifecycleStore; listed, the enrolment list and imports by PeopleStore."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain import Person, UnknownSwipe
from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store.audit import Actor
from gateway.store.models import PersonImport
from tests.store.support import count, open_stores, sql

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
CLI = Actor.cli()


async def test_people_are_added_once(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        person = await stores.lifecycle.add_person(" ana ", "  Ana   García ", CLI)
        assert person == Person(uid="ana", name="Ana García", active=True)
        with pytest.raises(ConflictError, match="'ana' already exists"):
            await stores.lifecycle.add_person("ana", "Another Ana", CLI)
        for uid, name in (("", "X"), ("two words", "X"), ("bob", " "), ("bob", "a\x00b")):
            with pytest.raises(InvalidInputError):
                await stores.lifecycle.add_person(uid, name, CLI)
    assert sql(db_url, "SELECT uid, name FROM people") == [("ana", "Ana García")]


async def test_a_card_is_assigned_found_and_revoked(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", CLI)
        await stores.lifecycle.add_person("bob", "Bob", CLI)
        await stores.lifecycle.assign_card("04:a1:b2:c3", "ana", CLI)
        await stores.lifecycle.assign_card("04A1B2C3", "ana", CLI)  # the same again: a no-op
        await stores.lifecycle.assign_card("04112233445566", "ana", CLI)  # may hold several
        assert await stores.swipes.find_person_by_card("04a1b2c3") == Person("ana", "Ana")
        assert await stores.swipes.find_person_by_card("DEADBEEF") is None

        with pytest.raises(ConflictError, match="held by ana"):
            await stores.lifecycle.assign_card("04A1B2C3", "bob", CLI)
        with pytest.raises(NotFoundError, match="'carol'"):
            await stores.lifecycle.assign_card("CAFEBABE", "carol", CLI)
        with pytest.raises(InvalidInputError, match="invalid card key"):
            await stores.lifecycle.assign_card("04A1B2", "ana", CLI)
        with pytest.raises(InvalidInputError):
            await stores.swipes.find_person_by_card("xyz")

        assert await stores.lifecycle.revoke_card("04a1b2c3", CLI) == "ana"
        with pytest.raises(NotFoundError, match="not assigned"):
            await stores.lifecycle.revoke_card("04A1B2C3", CLI)
        assert await stores.swipes.find_person_by_card("04A1B2C3") is None
        await stores.lifecycle.assign_card("04A1B2C3", "bob", CLI)
        assert await stores.swipes.find_person_by_card("04A1B2C3") == Person("bob", "Bob")
    # History is kept: ana's revoked assignment and bob's active one.
    rows = sql(
        db_url, "SELECT person_uid, revoked_at IS NULL FROM cards WHERE card_key = ?", ("04A1B2C3",)
    )
    assert sorted(rows) == [("ana", False), ("bob", True)]
    assert count(db_url, "cards") == 3


async def test_inactive_people_hold_no_card(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", CLI)
        await stores.lifecycle.add_person("bob", "Bob", CLI)
        await stores.lifecycle.assign_card("04A1B2C3", "ana", CLI)
        await stores.lifecycle.assign_card("CAFEBABE", "bob", CLI)
        sql(db_url, "UPDATE people SET active = ? WHERE uid = ?", (False, "ana"))
        assert await stores.swipes.find_person_by_card("04A1B2C3") is None
        assert await stores.swipes.card_directory() == {"CAFEBABE": Person("bob", "Bob")}
        with pytest.raises(ConflictError, match="inactive"):
            await stores.lifecycle.assign_card("DEADBEEF", "ana", CLI)


async def test_people_list_with_and_without_cards(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        for uid in ("carol", "ana", "bob"):
            await stores.lifecycle.add_person(uid, uid.title(), CLI)
        await stores.lifecycle.assign_card("CAFEBABE", "bob", CLI)
        await stores.lifecycle.assign_card("04A1B2C3", "bob", CLI)
        await stores.lifecycle.assign_card("DEADBEEF", "carol", CLI)
        await stores.lifecycle.revoke_card("DEADBEEF", CLI)
        everyone = await stores.people.people()
        assert [(p.uid, p.cards) for p in everyone] == [
            ("ana", []),
            ("bob", ["04A1B2C3", "CAFEBABE"]),
            ("carol", []),
        ]
        assert [p.uid for p in await stores.people.people(without_card=True)] == ["ana", "carol"]


async def test_one_card_cannot_go_to_two_people_at_once(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        for uid in ("ana", "bob", "carol", "dan"):
            await stores.lifecycle.add_person(uid, uid.title(), CLI)
        outcomes = await asyncio.gather(
            *(
                stores.lifecycle.assign_card("04A1B2C3", uid, CLI)
                for uid in ("ana", "bob", "carol", "dan")
            ),
            return_exceptions=True,
        )
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if o is not None)
    assert count(db_url, "cards") == 1


async def test_unknown_swipes_form_the_enrolment_list(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", CLI)
        await stores.swipes.record_unknown(UnknownSwipe("04a1b2c3", "entrance", "aa", T0))
        await stores.swipes.record_unknown(
            UnknownSwipe("04A1B2C3", "exit", "bb", T0 + timedelta(minutes=5))
        )
        # A replayed older swipe counts but moves neither last_seen nor the reader.
        await stores.swipes.record_unknown(
            UnknownSwipe("04A1B2C3", "entrance", "aa", T0 - timedelta(hours=1))
        )
        await stores.swipes.record_unknown(
            UnknownSwipe("CAFEBABE", "entrance", None, T0 + timedelta(minutes=1))
        )
        rows = await stores.people.unknown_swipes()
        assert [r.card_key for r in rows] == ["04A1B2C3", "CAFEBABE"]
        top = rows[0]
        assert (top.count, top.first_seen, top.last_seen) == (
            3,
            T0 - timedelta(hours=1),
            T0 + timedelta(minutes=5),
        )
        assert (top.last_reader, top.last_reader_hw_id) == ("exit", "bb")
        assert [r.card_key for r in await stores.people.unknown_swipes(limit=1)] == ["04A1B2C3"]
        await stores.lifecycle.assign_card(top.card_key, "ana", CLI)
        assert [r.card_key for r in await stores.people.unknown_swipes()] == ["CAFEBABE"]
        with pytest.raises(InvalidInputError):
            await stores.swipes.record_unknown(UnknownSwipe("nothex!!", "entrance", None, T0))


async def test_import_is_all_or_nothing(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", CLI)
        await stores.lifecycle.add_person("zoe", "Zoe", CLI)
        await stores.lifecycle.assign_card("CAFEBABE", "zoe", CLI)
        rows = [
            PersonImport(2, "ana", "Ana", "04A1B2C3"),
            PersonImport(3, "bob", "Bob", None),
            PersonImport(4, "carol", "Carol", "cafebabe"),  # zoe holds it
        ]
        with pytest.raises(ConflictError, match="line 4: card CAFEBABE is held by zoe"):
            await stores.people.import_people(rows)
        assert [p.uid for p in await stores.people.people()] == ["ana", "zoe"]
        assert await stores.swipes.find_person_by_card("04A1B2C3") is None

        rows[2] = PersonImport(4, "carol", "Carol", "DEADBEEF")
        preview = await stores.people.import_people(rows, dry_run=True)
        assert [p.uid for p in await stores.people.people()] == ["ana", "zoe"]
        done = await stores.people.import_people(rows)
        assert done == preview
        assert [(r.line, r.uid, r.person, r.card) for r in done] == [
            (2, "ana", "unchanged", "assigned"),
            (3, "bob", "added", None),
            (4, "carol", "added", "assigned"),
        ]
        again = await stores.people.import_people(rows)
        assert {(r.person, r.card) for r in again} <= {
            ("unchanged", "unchanged"),
            ("unchanged", None),
        }
        with pytest.raises(ConflictError, match="line 9: uid 'bob' already exists with name 'Bob'"):
            await stores.people.import_people([PersonImport(9, "bob", "Robert")])
