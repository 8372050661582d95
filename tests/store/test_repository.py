"""The repository contract: the same behaviour on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from gateway.domain import Direction, Outcome, Person, UnknownSwipe
from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store import repository as repository_module
from gateway.store.models import PersonImport, TimetableEntry
from gateway.store.tables import SCHEMA_VERSION
from tests.store.support import count, event, open_repo, sql

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_init_is_idempotent_and_check_reports_the_version(db_url: str) -> None:
    async with open_repo(db_url, init=False) as repo:
        # Two admins running `db init` at once: both succeed, one schema results.
        await asyncio.gather(repo.init_schema(), repo.init_schema(), repo.init_schema())
        await repo.add_person("ana", "Ana García")
        await repo.init_schema()
        assert await repo.check() == SCHEMA_VERSION
        assert [p.uid for p in await repo.people()] == ["ana"]
    assert count(db_url, "schema_version") == 1


async def test_people_are_added_once(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        person = await repo.add_person(" ana ", "  Ana   García ")
        assert person == Person(uid="ana", name="Ana García", active=True)
        with pytest.raises(ConflictError, match="'ana' already exists"):
            await repo.add_person("ana", "Another Ana")
        for uid, name in (("", "X"), ("two words", "X"), ("bob", " "), ("bob", "a\x00b")):
            with pytest.raises(InvalidInputError):
                await repo.add_person(uid, name)
    assert sql(db_url, "SELECT uid, name FROM people") == [("ana", "Ana García")]


async def test_a_card_is_assigned_found_and_revoked(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.add_person("bob", "Bob")
        await repo.assign_card("04:a1:b2:c3", "ana")
        await repo.assign_card("04A1B2C3", "ana")  # the same again: a no-op
        await repo.assign_card("04112233445566", "ana")  # a person may hold several
        assert await repo.find_person_by_card("04a1b2c3") == Person("ana", "Ana")
        assert await repo.find_person_by_card("DEADBEEF") is None

        with pytest.raises(ConflictError, match="held by ana"):
            await repo.assign_card("04A1B2C3", "bob")
        with pytest.raises(NotFoundError, match="'carol'"):
            await repo.assign_card("CAFEBABE", "carol")
        with pytest.raises(InvalidInputError, match="invalid card key"):
            await repo.assign_card("04A1B2", "ana")
        with pytest.raises(InvalidInputError):
            await repo.find_person_by_card("xyz")

        assert await repo.revoke_card("04a1b2c3") == "ana"
        with pytest.raises(NotFoundError, match="not assigned"):
            await repo.revoke_card("04A1B2C3")
        assert await repo.find_person_by_card("04A1B2C3") is None
        await repo.assign_card("04A1B2C3", "bob")
        assert await repo.find_person_by_card("04A1B2C3") == Person("bob", "Bob")
    # History is kept: ana's revoked assignment and bob's active one.
    rows = sql(
        db_url, "SELECT person_uid, revoked_at IS NULL FROM cards WHERE card_key = ?", ("04A1B2C3",)
    )
    assert sorted(rows) == [("ana", False), ("bob", True)]
    assert count(db_url, "cards") == 3


async def test_inactive_people_hold_no_card(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.add_person("bob", "Bob")
        await repo.assign_card("04A1B2C3", "ana")
        await repo.assign_card("CAFEBABE", "bob")
        sql(db_url, "UPDATE people SET active = ? WHERE uid = ?", (False, "ana"))
        assert await repo.find_person_by_card("04A1B2C3") is None
        assert await repo.card_directory() == {"CAFEBABE": Person("bob", "Bob")}
        with pytest.raises(ConflictError, match="inactive"):
            await repo.assign_card("DEADBEEF", "ana")


async def test_people_list_with_and_without_cards(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        for uid in ("carol", "ana", "bob"):
            await repo.add_person(uid, uid.title())
        await repo.assign_card("CAFEBABE", "bob")
        await repo.assign_card("04A1B2C3", "bob")
        await repo.assign_card("DEADBEEF", "carol")
        await repo.revoke_card("DEADBEEF")
        everyone = await repo.people()
        assert [(p.uid, p.cards) for p in everyone] == [
            ("ana", []),
            ("bob", ["04A1B2C3", "CAFEBABE"]),
            ("carol", []),
        ]
        assert [p.uid for p in await repo.people(without_card=True)] == ["ana", "carol"]


async def test_events_are_stored_once_per_event_key(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        first, second = event(at=T0), event(at=T0 + timedelta(hours=8), direction=Direction.OUT)
        assert await repo.record_events([first, first, second]) == [True, False, True]
        assert await repo.record_events([second, first]) == [False, False]
        assert await repo.record_events([]) == []
        dup = event(at=T0 + timedelta(seconds=2), outcome=Outcome.DUPLICATE)
        assert await repo.record_events([dup]) == [True]
        stored = await repo.events_since(0)
    assert [(e.event_key, e.outcome) for e in stored] == [
        (first.event_key, Outcome.RECORDED),
        (second.event_key, Outcome.RECORDED),
        (dup.event_key, Outcome.DUPLICATE),
    ]
    got = stored[0]
    assert (got.person_uid, got.card_key, got.direction, got.reader, got.reader_hw_id) == (
        "ana",
        "04A1B2C3",
        Direction.IN,
        "entrance",
        "a1b2c3d4",
    )
    assert got.received_at == T0 and got.received_at.utcoffset() == timedelta(0)
    assert got.stored_at.tzinfo is not None
    assert abs(got.stored_at - datetime.now(UTC)) < timedelta(minutes=5)


async def test_a_bad_batch_stores_nothing(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        good = event(at=T0)
        with pytest.raises(NotFoundError, match="ghost"):
            await repo.record_events([good, event("ghost", at=T0)])
        with pytest.raises(InvalidInputError, match="invalid card key"):
            await repo.record_events([good, event(card="12345")])
        with pytest.raises(InvalidInputError, match="aware"):
            await repo.record_events([good, event(at=datetime(2026, 11, 27, 8, 0))])
        assert await repo.events_since(0) == []
        # The good event is still new afterwards: nothing was half-written.
        assert await repo.record_events([good]) == [True]
    assert count(db_url, "clock_events") == 1


async def test_times_come_back_as_the_same_instant_in_utc(db_url: str) -> None:
    madrid_summer = timezone(timedelta(hours=2))
    at = datetime(2026, 7, 1, 9, 30, 15, 123456, tzinfo=madrid_summer)
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.record_events([event(at=at)])
        got = await repo.last_event("ana")
    assert got is not None
    assert got.received_at == at
    assert got.received_at.tzinfo is not None and got.received_at.utcoffset() == timedelta(0)
    assert got.received_at.hour == 7 and got.received_at.microsecond == 123456


async def test_concurrent_batches_all_land(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        batches = [
            [event(at=T0 + timedelta(seconds=i * 10 + j)) for j in range(5)] for i in range(8)
        ]
        results = await asyncio.gather(*(repo.record_events(b) for b in batches))
        assert all(all(r) for r in results)
    assert count(db_url, "clock_events") == 40


async def test_one_card_cannot_go_to_two_people_at_once(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        for uid in ("ana", "bob", "carol", "dan"):
            await repo.add_person(uid, uid.title())
        outcomes = await asyncio.gather(
            *(repo.assign_card("04A1B2C3", uid) for uid in ("ana", "bob", "carol", "dan")),
            return_exceptions=True,
        )
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, ConflictError) for o in outcomes if o is not None)
    assert count(db_url, "cards") == 1


async def test_last_event_and_the_export_cursor(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.add_person("bob", "Bob")
        assert await repo.last_event("ana") is None
        late, early = event(at=T0 + timedelta(hours=1)), event(at=T0)
        # Stored out of received order, as a spool replay can do.
        await repo.record_events([late])
        await repo.record_events([early, event("bob", "CAFEBABE", at=T0 + timedelta(hours=2))])
        last = await repo.last_event("ana")
        assert last is not None and last.event_key == late.event_key
        everything = await repo.events_since(0)
        assert [e.id for e in everything] == sorted(e.id for e in everything)
        page = await repo.events_since(0, limit=2)
        rest = await repo.events_since(page[-1].id)
        assert [e.event_key for e in page + rest] == [e.event_key for e in everything]
        assert await repo.events_since(everything[-1].id) == []


async def test_events_between_streams_in_received_order(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so that the stream crosses several chunk boundaries, including
    # ties on received_at that only the id breaks.
    monkeypatch.setattr(repository_module, "_STREAM_CHUNK", 3)
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.add_person("bob", "Bob")
        times = [T0 + timedelta(minutes=m) for m in (5, 1, 3, 3, 3, 9, 0, 7, 3, 12)]
        events = [event("ana" if i % 2 else "bob", at=t) for i, t in enumerate(times)]
        await repo.record_events(events)
        window_start, window_end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=9)
        got = [e async for e in repo.events_between(window_start, window_end)]
        assert [e.received_at for e in got] == sorted(
            t for t in times if window_start <= t < window_end
        )
        assert len({e.event_key for e in got}) == len(got) == 7
        only_ana = [e async for e in repo.events_between(T0, T0 + timedelta(days=1), "ana")]
        assert {e.person_uid for e in only_ana} == {"ana"} and len(only_ana) == 5
        with pytest.raises(InvalidInputError):
            [e async for e in repo.events_between(datetime(2026, 1, 1), T0)]


async def test_unknown_swipes_form_the_enrolment_list(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.record_unknown(UnknownSwipe("04a1b2c3", "entrance", "aa", T0))
        await repo.record_unknown(UnknownSwipe("04A1B2C3", "exit", "bb", T0 + timedelta(minutes=5)))
        # A replayed older swipe counts but moves neither last_seen nor the reader.
        await repo.record_unknown(
            UnknownSwipe("04A1B2C3", "entrance", "aa", T0 - timedelta(hours=1))
        )
        await repo.record_unknown(
            UnknownSwipe("CAFEBABE", "entrance", None, T0 + timedelta(minutes=1))
        )
        rows = await repo.unknown_swipes()
        assert [r.card_key for r in rows] == ["04A1B2C3", "CAFEBABE"]
        top = rows[0]
        assert (top.count, top.first_seen, top.last_seen) == (
            3,
            T0 - timedelta(hours=1),
            T0 + timedelta(minutes=5),
        )
        assert (top.last_reader, top.last_reader_hw_id) == ("exit", "bb")
        assert [r.card_key for r in await repo.unknown_swipes(limit=1)] == ["04A1B2C3"]
        await repo.assign_card(top.card_key, "ana")
        assert [r.card_key for r in await repo.unknown_swipes()] == ["CAFEBABE"]
        with pytest.raises(InvalidInputError):
            await repo.record_unknown(UnknownSwipe("nothex!!", "entrance", None, T0))


async def test_the_timetable_is_replaced_whole_or_per_person(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.add_person("bob", "Bob")
        morning = TimetableEntry("ana", 1, time(8, 15), time(14, 45), "A1")
        night = TimetableEntry("bob", 5, time(22, 0), time(6, 0), "Lab")  # crosses midnight
        assert await repo.replace_timetable([morning, night]) == 2
        assert await repo.timetable() == [morning, night]
        assert await repo.timetable(uid="bob") == [night]
        assert await repo.timetable(weekday=1) == [morning]

        evening = TimetableEntry("ana", 1, time(16, 0), time(22, 15))
        assert await repo.replace_timetable([evening], uids=["ana"]) == 1
        assert await repo.timetable() == [evening, night]

        # Refused changes leave the timetable as it was.
        with pytest.raises(NotFoundError, match="ghost"):
            await repo.replace_timetable([TimetableEntry("ghost", 2, time(9), time(10))])
        with pytest.raises(InvalidInputError, match="outside"):
            await repo.replace_timetable([morning], uids=["bob"])
        with pytest.raises(InvalidInputError, match="weekday"):
            await repo.replace_timetable([TimetableEntry("ana", 0, time(9), time(10))])
        with pytest.raises(InvalidInputError, match="start and end"):
            await repo.replace_timetable([TimetableEntry("ana", 2, time(9), time(9))])
        assert await repo.timetable() == [evening, night]
        assert await repo.replace_timetable([]) == 0
        assert await repo.timetable() == []


async def test_import_is_all_or_nothing(db_url: str) -> None:
    async with open_repo(db_url) as repo:
        await repo.add_person("ana", "Ana")
        await repo.add_person("zoe", "Zoe")
        await repo.assign_card("CAFEBABE", "zoe")
        rows = [
            PersonImport(2, "ana", "Ana", "04A1B2C3"),
            PersonImport(3, "bob", "Bob", None),
            PersonImport(4, "carol", "Carol", "cafebabe"),  # zoe holds it
        ]
        with pytest.raises(ConflictError, match="line 4: card CAFEBABE is held by zoe"):
            await repo.import_people(rows)
        assert [p.uid for p in await repo.people()] == ["ana", "zoe"]
        assert await repo.find_person_by_card("04A1B2C3") is None

        rows[2] = PersonImport(4, "carol", "Carol", "DEADBEEF")
        preview = await repo.import_people(rows, dry_run=True)
        assert [p.uid for p in await repo.people()] == ["ana", "zoe"]
        done = await repo.import_people(rows)
        assert done == preview
        assert [(r.line, r.uid, r.person, r.card) for r in done] == [
            (2, "ana", "unchanged", "assigned"),
            (3, "bob", "added", None),
            (4, "carol", "added", "assigned"),
        ]
        again = await repo.import_people(rows)
        assert {(r.person, r.card) for r in again} <= {
            ("unchanged", "unchanged"),
            ("unchanged", None),
        }
        with pytest.raises(ConflictError, match="line 9: uid 'bob' already exists with name 'Bob'"):
            await repo.import_people([PersonImport(9, "bob", "Robert")])


async def test_check_fails_clearly_without_a_schema(db_url: str) -> None:
    from gateway.errors import DatabaseUnavailableError

    async with open_repo(db_url, init=False) as repo:
        with pytest.raises(DatabaseUnavailableError, match="db init") as info:
            await repo.check()
        assert "\n" not in str(info.value)
        with pytest.raises(DatabaseUnavailableError, match="db init"):
            await repo.find_person_by_card("04A1B2C3")
