"""The people list's search on PostgreSQL and SQLite (PeopleStore.search): by name with
case and accents ignored, by uid, by card; filtered by state and room; paged by a key,
never an offset. The property: whatever the page size, paging through every page
yields every matching person exactly once, in the list's order, and exactly the people
a plain Python filter over the same data picks."""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass
from datetime import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidInputError
from gateway.store.audit import Actor
from gateway.store.models import TimetableEntry
from gateway.store.people import STATES
from tests.store.support import open_stores, sql

CLI = Actor.cli()


@dataclass(frozen=True)
class Seeded:
    uid: str
    name: str
    card: str | None = None
    state: str = "active"  # or "inactive", "erased"
    room: str = ""


# Names a Spanish school has, with the same folded name under several uids (ties the
# key must break), upper case, decomposed accents (NFD), and LIKE's wildcards.
PEOPLE = [
    Seeded("jose.nunez", "José Núñez", "04A1B2C3", room="Aula 1"),
    Seeded("jose.nunez2", "JOSE NUNEZ", "04A1B2C4"),
    Seeded("jose.nunez3", unicodedata.normalize("NFD", "José Núñez")),
    Seeded("ana.garcia", "Ana García", "04AAAA01", room="Aula 1"),
    Seeded("ana.garcia.old", "Ana García", "04AAAA02", state="inactive"),
    Seeded("angela", "Ángela Ibáñez", room="Laboratorio"),
    Seeded("nuria", "Núria Puig i Col·lell", "04BBBB01"),
    Seeded("pct", "50% Ruiz_Ortega", "04CCCC01"),
    Seeded("erased.one", "Borrada Pérez", state="erased"),
    Seeded("zoe", "Zoë Çelik", "04112233445566", room="Laboratorio"),
    Seeded("eva", "eva martín", state="inactive", room="Aula 1"),
    Seeded("ceci", "Cecilia Ceca", "04CECA00"),
] + [Seeded(f"p{i:02d}", f"Persona {chr(65 + i % 26)}{i}", f"0400{i:04X}") for i in range(30)]


async def _seed(url: str) -> None:
    async with open_stores(url) as stores:
        for p in PEOPLE:
            await stores.lifecycle.add_person(p.uid, p.name, CLI)
            if p.card:
                await stores.lifecycle.assign_card(p.card, p.uid, CLI)
        await stores.timetable.replace_timetable(
            [TimetableEntry(p.uid, 1, time(8), time(14), p.room) for p in PEOPLE if p.room]
        )
        for p in PEOPLE:
            if p.state == "inactive":
                await stores.lifecycle.set_active(p.uid, False, CLI)
            elif p.state == "erased":
                await stores.lifecycle.erase(p.uid, CLI)


def _fold(text: str) -> str:
    """The oracle's folding: Unicode's own decomposition, not the store's table."""
    decomposed = unicodedata.normalize("NFD", text.replace("·", ""))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _matches(p: Seeded, text: str, state: str | None, room: str | None) -> bool:
    cards = [p.card] if p.card and p.state != "erased" else []  # erasure revokes
    if state is None and p.state == "erased":
        return False
    if state == "active" and p.state != "active":
        return False
    if state == "nocard" and (p.state != "active" or cards):
        return False
    if state in ("inactive", "erased") and p.state != state:
        return False
    if room and p.room != room:
        return False
    for term in text.split():
        digits = term.replace(":", "").replace("-", "").upper()
        card_term = len(digits) >= 4 and all(c in "0123456789ABCDEF" for c in digits)
        if not (
            _fold(term) in _fold(p.name)
            or _fold(term) in _fold(p.uid)
            or (card_term and any(digits in c for c in cards))
        ):
            return False
    return True


async def _all_pages(
    url: str, text: str, state: str | None, room: str | None, size: int
) -> tuple[list[str], list[int]]:
    uids: list[str] = []
    totals: list[int] = []
    async with open_stores(url, init=False) as stores:
        after = None
        for _ in range(len(PEOPLE) + 2):  # bounded: a page is never empty but the last
            page = await stores.people.search(text, state=state, room=room, after=after, limit=size)
            assert len(page.rows) <= size
            uids += [r.uid for r in page.rows]
            totals.append(page.total)
            if page.after is None:
                break
            assert len(page.rows) == size
            after = page.after
        else:
            raise AssertionError("paging did not end")
    return uids, totals


QUERIES = st.one_of(
    st.sampled_from(
        [
            "",
            "jose",
            "NÚÑEZ",
            "nunez jose",
            "ana",
            "garcía ana",
            "ÁNGELA",
            "collell",
            "04a1",
            "04:AA:AA",
            "%",
            "_",
            "50%",
            "persona a",
            "ceca",
            "zoe",
            "çelik",
            "p0",
            "nobody",
        ]
    ),
    st.text(alphabet="aeioujosénñÁ%_ 04AB", max_size=4),
)


def test_paging_yields_every_match_once_in_order(db_url: str) -> None:
    asyncio.run(_seed(db_url))

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        size=st.integers(1, 12),
        text=QUERIES,
        state=st.sampled_from([None, *STATES]),
        room=st.sampled_from([None, "Aula 1", "Laboratorio"]),
    )
    def check(size: int, text: str, state: str | None, room: str | None) -> None:
        uids, totals = asyncio.run(_all_pages(db_url, text, state, room, size))
        expected = [p for p in PEOPLE if _matches(p, text, state, room)]
        # In the list's order: folded name, then uid (the cluster's locale is C, so
        # the database orders as Python does).
        expected.sort(key=lambda p: (_fold(p.name), p.uid))
        assert uids == [p.uid for p in expected], (text, state, room, size)
        assert set(totals) == {len(expected)}

    check()


async def test_names_match_without_case_or_accents(db_url: str) -> None:
    await _seed(db_url)
    async with open_stores(db_url, init=False) as stores:
        found = await stores.people.search("jose nunez")
        assert [r.uid for r in found.rows] == ["jose.nunez", "jose.nunez2", "jose.nunez3"]
        assert [r.uid for r in (await stores.people.search("JOSÉ")).rows][:1] == ["jose.nunez"]
        assert [r.uid for r in (await stores.people.search("Ibanez")).rows] == ["angela"]
        assert [r.uid for r in (await stores.people.search("col·lell")).rows] == ["nuria"]
        # LIKE's wildcards are text: "%" finds the one name with a percent sign.
        assert [r.uid for r in (await stores.people.search("%")).rows] == ["pct"]
        assert [r.uid for r in (await stores.people.search("a_g")).rows] == []  # not "ana g"
        # A word is in the name or in the uid, never across the two ("García" + "ana.").
        assert [r.uid for r in (await stores.people.search("garciaana")).rows] == []
        # A card by part of its key, in any spelling; two hex letters are not a card.
        assert [r.uid for r in (await stores.people.search("04:a1:b2")).rows] == [
            "jose.nunez",
            "jose.nunez2",
        ]
        assert [r.uid for r in (await stores.people.search("ce")).rows] == ["ceci", "zoe"]
        ceca = await stores.people.search("ceca")
        assert [r.uid for r in ceca.rows] == ["ceci"] and ceca.rows[0].cards == ["04CECA00"]


async def test_states_and_rooms(db_url: str) -> None:
    await _seed(db_url)
    async with open_stores(db_url, init=False) as stores:
        search = stores.people.search
        assert {r.uid for r in (await search(state="erased")).rows} == {"erased.one"}
        assert {r.uid for r in (await search(state="inactive")).rows} == {"ana.garcia.old", "eva"}
        assert {r.uid for r in (await search(state="nocard")).rows} == {"jose.nunez3", "angela"}
        assert {r.uid for r in (await search(room="Aula 1")).rows} == {
            "jose.nunez",
            "ana.garcia",
            "eva",
        }
        assert "erased.one" not in {r.uid for r in (await search(limit=500)).rows}
        assert (await search(limit=500)).total == len(PEOPLE) - 1
        assert await stores.people.rooms() == ["Aula 1", "Laboratorio"]
        with pytest.raises(InvalidInputError, match="unknown state"):
            await search(state="gone")


async def test_a_person_added_between_pages_neither_shifts_nor_repeats_one(db_url: str) -> None:
    await _seed(db_url)
    async with open_stores(db_url, init=False) as stores:
        first = await stores.people.search("persona", limit=10)
        assert first.after is not None
        # Sorted before every name of the next page: an offset would repeat a row.
        await stores.lifecycle.add_person("a.new", "Persona A0 Primera", CLI)
        second = await stores.people.search("persona", limit=10, after=first.after)
        seen = [r.uid for r in first.rows]
        assert not set(seen) & {r.uid for r in second.rows}
        assert "a.new" not in {r.uid for r in second.rows}


async def test_one_persons_record_with_their_card_history(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", CLI)
        await stores.lifecycle.assign_card("04000001", "ana", CLI)
        await stores.lifecycle.revoke_card("04000001", CLI)
        await stores.lifecycle.assign_card("04000002", "ana", CLI)
        record = await stores.people.person("ana")
        assert record is not None and record.active and not record.erased
        assert [c.card_key for c in record.cards] == ["04000002", "04000001"]
        assert record.active_cards == ["04000002"]
        assert record.cards[1].revoked_at is not None
        assert await stores.people.person("nobody") is None
        await stores.lifecycle.erase("ana", CLI)
        erased = await stores.people.person("ana")
        assert erased is not None and erased.erased and erased.active_cards == []


async def test_a_persons_audit_trail_pages_by_id(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", CLI)
        await stores.lifecycle.add_person("bob", "Bob", CLI)
        for n in range(5):
            await stores.lifecycle.rename("ana", f"Ana {n}", CLI)
            await stores.lifecycle.rename("bob", f"Bob {n}", CLI)
        first = await stores.audit.recent(target="ana", limit=4)
        rest = await stores.audit.recent(target="ana", limit=4, before_id=first[-1].id)
        rows = first + rest
        assert [r.action for r in rows] == ["person.rename"] * 5 + ["person.add"]
        assert {r.target for r in rows} == {"ana"}
        assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
        renames = await stores.audit.recent(action="person.rename", limit=100)
        assert len(renames) == 10
        assert len(await stores.audit.recent(action="person.", limit=100)) == 12
    assert sql(db_url, "SELECT count(*) FROM audit_log WHERE target = ?", ("ana",)) == [(6,)]


async def test_control_characters_are_not_searched_for(db_url: str) -> None:
    """A NUL is an error to PostgreSQL: a search typed with one finds what the rest finds."""
    await _seed(db_url)
    async with open_stores(db_url, init=False) as stores:
        assert [r.uid for r in (await stores.people.search("ang\x00ela\u200b")).rows] == ["angela"]
        assert (await stores.people.search("\x00 \x07")).total == len(PEOPLE) - 1
        assert await stores.audit.recent(text="person.\x00add", limit=1)
