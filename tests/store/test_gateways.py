"""The fleet table on both backends: a heartbeat upserts one row per gateway, and the
silence of each is measured on the database's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import InvalidInputError
from gateway.store.gateways import GatewayHeartbeat, GatewayReader
from gateway.store.stores import Stores


async def test_heartbeats_upsert_and_list(db_url: str) -> None:
    stores = Stores.open(db_url)
    try:
        await stores.db.init_schema()
        started = datetime.now(UTC) - timedelta(hours=1)
        beat = GatewayHeartbeat(
            id="hall-a",
            version="1.0",
            hostname="pc-1",
            started_at=started,
            spool_depth=3,
            readers=(GatewayReader("entrance", "in", "ready"),),
        )
        await stores.gateways.publish(beat)
        seen = datetime.now(UTC)
        await stores.gateways.publish(
            GatewayHeartbeat(
                id="hall-a",
                version="1.1",
                hostname="pc-1",
                started_at=started,
                last_write_at=seen,
                readers=(GatewayReader("entrance", "in", "down", seen),),
            )
        )
        await stores.gateways.publish(GatewayHeartbeat("hall-b", "1.1", "pc-2", started))
        rows = await stores.gateways.all()
        assert [r.heartbeat.id for r in rows] == ["hall-a", "hall-b"]
        a = rows[0].heartbeat
        assert (a.version, a.spool_depth, a.started_at) == ("1.1", 0, started)
        assert a.last_write_at == seen
        assert a.readers == (GatewayReader("entrance", "in", "down", seen),)
        assert all(0 <= r.silent_s < 30 for r in rows)
        with pytest.raises(InvalidInputError):
            await stores.gateways.publish(GatewayHeartbeat("no spaces", "1", "h", started))
    finally:
        await stores.close()


async def test_a_page_of_the_fleet_searched_and_by_id(db_url: str) -> None:
    """More gateways than one batch of the filter (FLEET_BATCH), a search matching a
    few far apart: every page after the last id, each match once, in id order."""
    from gateway.store.gateways import FLEET_BATCH

    stores = Stores.open(db_url)
    try:
        await stores.db.init_schema()
        started = datetime.now(UTC)
        count = FLEET_BATCH + 30
        for i in range(count):
            reader = "Biblioteca" if i % 50 == 7 else "puerta"
            await stores.gateways.publish(
                GatewayHeartbeat(
                    f"g{i:04d}",
                    "1",
                    f"host-{i}",
                    started,
                    readers=(GatewayReader(reader, "in", "ready"),),
                )
            )
        wanted = [f"g{i:04d}" for i in range(count) if i % 50 == 7]
        seen: list[str] = []
        after = None
        for _ in range(count):  # bounded: a page is never empty but the last
            page = await stores.gateways.page("biblioteca", after=after, limit=2)
            seen += [r.heartbeat.id for r in page.rows]
            if page.after is None:
                break
            after = page.after
        assert seen == wanted
        assert [r.heartbeat.id for r in (await stores.gateways.page("HOST-42")).rows] == ["g0042"]
        assert (await stores.gateways.page("nowhere")).rows == []
        whole = await stores.gateways.page(limit=count)
        assert len(whole.rows) == count and whole.after is None
    finally:
        await stores.close()
