"""The fleet table: one row per gateway, upserted by its daemon, read by `status --all`.

The heartbeat is stamped with the database's clock on PostgreSQL (now() of the upsert),
and `status --all` compares it with the database's clock too, so a gateway whose own
clock is off is never reported silent (or alive) by mistake. SQLite is one machine:
the gateway's clock is the database's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select, type_coerce

from gateway.errors import DatabaseUnavailableError
from gateway.store import validate
from gateway.store.database import Database
from gateway.store.folding import fold, search_words
from gateway.store.tables import UtcDateTime, gateways


@dataclass(frozen=True)
class GatewayReader:
    name: str
    role: str
    state: str
    last_swipe_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "state": self.state,
            "last_swipe_at": None if self.last_swipe_at is None else self.last_swipe_at.isoformat(),
        }


@dataclass(frozen=True)
class GatewayHeartbeat:
    """What a daemon publishes about itself."""

    id: str
    version: str
    hostname: str
    started_at: datetime
    spool_depth: int = 0
    last_write_at: datetime | None = None
    readers: tuple[GatewayReader, ...] = ()


@dataclass(frozen=True)
class GatewayRow:
    """A gateway as the fleet table knows it; silent_s is measured on the database's clock."""

    heartbeat: GatewayHeartbeat
    heartbeat_at: datetime
    silent_s: float


@dataclass(frozen=True)
class FleetPage:
    """One page of the fleet table, and the id of its last row when another follows."""

    rows: list[GatewayRow]
    after: str | None


FLEET_BATCH = 200  # rows read per look while filtering a page


def _haystack(row: GatewayRow) -> str:
    beat = row.heartbeat
    return fold(" ".join([beat.id, beat.hostname, *(r.name for r in beat.readers)]))


_UPDATED = (
    "version",
    "hostname",
    "started_at",
    "heartbeat_at",
    "spool_depth",
    "last_write_at",
    "readers",
)


class GatewayStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def publish(self, beat: GatewayHeartbeat) -> None:
        """Upsert this gateway's row (one statement, one short transaction)."""
        values = {
            "id": validate.gateway_id(beat.id),
            "version": beat.version,
            "hostname": beat.hostname[:255],
            "started_at": beat.started_at,
            # The database's clock where there is one apart from ours.
            "heartbeat_at": (
                type_coerce(func.now(), UtcDateTime)
                if self._db.dialect == "postgresql"
                else datetime.now(UTC)
            ),
            "spool_depth": beat.spool_depth,
            "last_write_at": beat.last_write_at,
            "readers": json.dumps([r.to_json() for r in beat.readers], separators=(",", ":")),
        }
        # Built per call (every few seconds at most): now() is SQL, not a parameter.
        stmt = self._db.insert(gateways).values(values)
        upsert = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={c: stmt.excluded[c] for c in _UPDATED},
        )
        async with self._db.tx(write=True) as conn:
            await conn.execute(upsert)

    async def all(self) -> list[GatewayRow]:
        """Every gateway, by id, with how long each has been silent."""
        return await self._read(select(gateways).order_by(gateways.c.id))

    async def page(self, text: str = "", *, after: str | None = None, limit: int = 50) -> FleetPage:
        """The gateways after the id `after`, by id (keyset), whose id, host name or a
        reader's name holds every word of `text` (case and accents ignored).

        Filtered here, FLEET_BATCH rows at a time, not in SQL: the readers are JSON in
        one text column, which the two backends read differently (and a malformed one
        must not fail the page, as `all` tolerates it)."""
        words = [fold(w) for w in search_words(text)]
        limit = max(1, limit)
        found: list[GatewayRow] = []
        cursor = after
        while len(found) <= limit:
            query = select(gateways).order_by(gateways.c.id).limit(FLEET_BATCH)
            if cursor is not None:
                query = query.where(gateways.c.id > cursor)
            batch = await self._read(query)
            found += [row for row in batch if all(w in _haystack(row) for w in words)]
            if len(batch) < FLEET_BATCH:
                break
            cursor = batch[-1].heartbeat.id
        shown = found[:limit]
        return FleetPage(shown, shown[-1].heartbeat.id if len(found) > limit else None)

    async def _read(self, query: Select[Any]) -> list[GatewayRow]:
        async with self._db.tx() as conn:
            now = await conn.scalar(select(type_coerce(func.now(), UtcDateTime)))
            rows = (await conn.execute(query)).all()
        if not isinstance(now, datetime):
            raise DatabaseUnavailableError(f"database {self._db.url} gave no current time")
        if self._db.dialect != "postgresql":
            now = datetime.now(UTC)  # SQLite's now() is text in UTC without a zone
        out = []
        for r in rows:
            try:
                readers = json.loads(r.readers)
            except ValueError:
                readers = []
            beat = GatewayHeartbeat(
                id=r.id,
                version=r.version,
                hostname=r.hostname,
                started_at=r.started_at,
                spool_depth=r.spool_depth,
                last_write_at=r.last_write_at,
                readers=tuple(
                    GatewayReader(
                        name=str(x.get("name", "?")),
                        role=str(x.get("role", "?")),
                        state=str(x.get("state", "?")),
                        last_swipe_at=_when(x.get("last_swipe_at")),
                    )
                    for x in readers
                    if isinstance(x, dict)
                ),
            )
            silent = max(0.0, (now - r.heartbeat_at).total_seconds())
            out.append(GatewayRow(beat, r.heartbeat_at, silent))
        return out


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
