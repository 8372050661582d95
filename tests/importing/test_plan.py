"""The mapping of the original's rows, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from gateway.config import ORIGINAL_SLOTS
from gateway.importing.plan import (
    IMPORTED_CARD_KEY,
    EventMapper,
    event_key,
    event_key_hex,
    plan_people,
    plan_timetable,
)
from gateway.store.imported_events import EVENT_COLUMNS


def test_people_and_cards_are_never_guessed() -> None:
    users = [
        ("ana", "Ana García", "04:a1:b2:c3"),
        ("luis", "Luis Pérez", "04 A1 B2 C3"),  # the same card as Ana's
        ("eva", "Eva", "zz"),
        ("pau", "Pau Soler", "04a1b2c4"),  # held here by someone else already
        ("mar", "Mar", "04A1B2C5"),  # held here by mar already
        ("ana garcia", "", None),  # a uid we cannot take, and no name
    ]
    plan = plan_people(users, {"mar": "Mar", "zoe": "Zoë"}, {"04A1B2C4": "zoe", "04A1B2C5": "mar"})
    assert plan.uid_map == {
        "ana": "ana",
        "luis": "luis",
        "eva": "eva",
        "pau": "pau",
        "mar": "mar",
        "ana garcia": "ana.garcia",
    }
    assert sorted(plan.add) == [
        ("ana", "Ana García"),
        ("ana.garcia", "ana garcia"),
        ("eva", "Eva"),
        ("luis", "Luis Pérez"),
        ("pau", "Pau Soler"),
    ]
    assert plan.unchanged == 1 and plan.cards == [] and plan.cards_unchanged == 1
    assert [str(p) for p in plan.problems] == [
        "user 'ana garcia': name '' cannot be used: imported as 'ana garcia'",
        "user 'ana garcia': not a valid uid here: imported as 'ana.garcia'",
        "user 'eva': malformed card key 'zz': no card given",
        "user 'ana', 'luis': card key 04A1B2C3 held by 2 people: given to none",
        "user 'pau': card key 04A1B2C4 is held here by zoe: not given to pau",
    ]
    # A second run lands the derived uid on the same person.
    again = plan_people(users, {u: n for u, n in plan.add} | {"mar": "Mar"}, {})
    assert again.uid_map["ana garcia"] == "ana.garcia" and again.add == []


def test_timetable_through_the_slot_table() -> None:
    rows = [
        (1, "0", "0", "Aula 1", "ana"),
        (2, "0", "0", "Aula 1", "ana"),  # an exact repeat collapses
        (3, "4", "11", "Taller\n3", "ana"),
        (4, "7", "0", "x", "ana"),
        (5, "0", "x", "x", "ana"),
        (6, "0", "1", "x", None),
        (7, "0", "1", "x", "ghost"),
    ]
    entries, problems = plan_timetable(rows, {"ana": "ana"}, ORIGINAL_SLOTS)
    assert [(e.weekday, e.start, e.end, e.room) for e in entries] == [
        (1, time(8, 15), time(9, 15), "Aula 1"),
        (5, time(21, 10), time(22, 10), "Taller 3"),
    ]
    assert [p.ref for p in problems] == ["4", "5", "6", "7"]


def test_taps_become_events_with_duplicates_marked() -> None:
    mapper = EventMapper({"ana": "ana"}, duplicate_window_s=5)
    rows = mapper.map(
        [
            (10, "input", 1_700_000_000, "ana"),
            (11, "input", 1_700_000_001, "ana"),  # a second later: a duplicate
            (12, "output", 1_700_000_002, "ana"),  # the other reader: counted
            (13, "input", 1_700_000_006, "ana"),  # past the window from the counted one
            (14, "lunch", 1_700_000_007, "ana"),
        ]
    )
    assert [(r[3], r[7]) for r in rows] == [
        ("in", "recorded"),
        ("in", "duplicate"),
        ("out", "recorded"),
        ("in", "recorded"),
    ]
    first = dict(zip(EVENT_COLUMNS, rows[0], strict=True))
    received = datetime.fromtimestamp(rows[0][6], UTC)
    assert received == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert first["event_key"] == event_key(10).hex and first["source_id"] == "10"
    assert first["source"] == "import" and first["card_key"] == IMPORTED_CARD_KEY
    assert first["reader"] == "original:input" and first["reader_hw_id"] is None
    assert [str(p) for p in mapper.problems] == [
        "auth_entity 14: reader 'lunch' is not input/output: skipped"
    ]


@given(st.integers(min_value=-(2**63), max_value=2**63))
def test_the_fast_event_key_is_uuid5s(id_key: int) -> None:
    # event_key_hex skips the UUID object; the key must stay exactly uuid5's, or a
    # second run would not find the first run's events.
    assert event_key_hex(id_key) == event_key(id_key).hex


def test_every_problem_keeps_its_message() -> None:
    mapper = EventMapper({"ana": "ana"}, duplicate_window_s=5)
    assert mapper.map([(1, "input", 0, None), (2, "input", 0, "ghost"), (3, "x", 0, "ana")]) == []
    assert [str(p) for p in mapper.problems] == [
        "auth_entity 1: no user (userUid is null): skipped",
        "auth_entity 2: no user 'ghost': skipped",
        "auth_entity 3: reader 'x' is not input/output: skipped",
    ]
