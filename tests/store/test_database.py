"""Database: schema init and check, the same on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store.audit import Actor
from gateway.store.tables import SCHEMA_VERSION
from tests.store.support import count, open_stores


async def test_init_is_idempotent_and_check_reports_the_version(db_url: str) -> None:
    async with open_stores(db_url, init=False) as stores:
        # Two admins running `db init` at once: both succeed, one schema results.
        await asyncio.gather(
            stores.db.init_schema(), stores.db.init_schema(), stores.db.init_schema()
        )
        await stores.lifecycle.add_person("ana", "Ana García", Actor.cli())
        await stores.db.init_schema()
        assert await stores.db.check() == SCHEMA_VERSION
        assert [p.uid for p in await stores.people.people()] == ["ana"]
    assert count(db_url, "schema_version") == 1


async def test_check_fails_clearly_without_a_schema(db_url: str) -> None:
    from gateway.errors import DatabaseUnavailableError

    async with open_stores(db_url, init=False) as stores:
        with pytest.raises(DatabaseUnavailableError, match="db init") as info:
            await stores.db.check()
        assert "\n" not in str(info.value)
        with pytest.raises(DatabaseUnavailableError, match="db init"):
            await stores.swipes.find_person_by_card("04A1B2C3")
