"""The unknown cards' page on PostgreSQL and SQLite (PeopleStore.unknown_page): cards
nobody holds, latest first and by key within one instant, found by key (any case and
separators) or by reader, paged by a key that a card seen meanwhile never shifts; and
the fingerprint the live topic sends, which moves with any change to the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.domain import UnknownSwipe
from gateway.store.audit import Actor
from tests.store.support import open_stores

BASE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _card(i: int) -> str:
    return f"0A{i:06X}"


async def test_pages_search_and_the_fingerprint(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        for i in range(12):  # two cards per minute: ties broken by key
            at = BASE + timedelta(minutes=i // 2)
            reader = "exit" if i % 3 == 0 else "entrance"
            await stores.swipes.record_unknown(UnknownSwipe(_card(i), reader, None, at))
        expected = [_card(i) for m in reversed(range(6)) for i in (2 * m, 2 * m + 1)]
        seen: list[str] = []
        after = None
        for _ in range(12):  # bounded: a page is never empty but the last
            page = await stores.people.unknown_page(after=after, limit=5)
            seen += [r.card_key for r in page.rows]
            assert page.total == (12 if len(seen) <= 5 else 13)
            if page.after is None:
                break
            after = page.after
            if len(seen) == 5:  # a card seen now goes to the top, not into a later page
                await stores.swipes.record_unknown(
                    UnknownSwipe(_card(0x99), "entrance", None, BASE + timedelta(hours=1))
                )
        assert seen == expected

        found = await stores.people.unknown_page("0a:00:00:0b")
        assert [r.card_key for r in found.rows] == [_card(11)] and found.total == 1
        exits = await stores.people.unknown_page("EXIT")
        assert {r.card_key for r in exits.rows} == {_card(i) for i in (0, 3, 6, 9)}
        assert (await stores.people.unknown_page("exit 0A000009")).total == 1
        assert (await stores.people.unknown_page("nothing")).total == 0
        assert (await stores.people.unknown_page("%")).total == 0  # LIKE's wildcard: a letter

        state = await stores.people.unknown_state()
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        await stores.lifecycle.assign_card(_card(5), "ana", Actor.cli())
        assigned = await stores.people.unknown_state()
        assert assigned != state
        assert _card(5) not in [r.card_key for r in (await stores.people.unknown_page()).rows]
        await stores.swipes.record_unknown(
            UnknownSwipe(_card(1), "exit", None, BASE + timedelta(minutes=1))  # an old one
        )
        assert await stores.people.unknown_state() != assigned
