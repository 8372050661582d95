"""Helpers for store tests: open the stores, and look at the database directly.

The direct look goes through the plain synchronous drivers, not the stores, so
that "nothing was written" is checked independently of the code under test.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from gateway.domain import ClockEvent, Direction, Outcome
from gateway.store.stores import Stores


@asynccontextmanager
async def open_stores(
    url: str, *, init: bool = True, connect_timeout: float = 3.0
) -> AsyncIterator[Stores]:
    stores = Stores.open(url, connect_timeout=connect_timeout)
    try:
        if init:
            await stores.db.init_schema()
        yield stores
    finally:
        await stores.close()


def sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement with the sync driver; `?` placeholders on both backends."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA foreign_keys=ON")
            return conn.execute(statement, params).fetchall()
    with psycopg.connect(url) as pg:
        cur = pg.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def count(url: str, table: str) -> int:
    return int(sql(url, f"SELECT count(*) FROM {table}")[0][0])


def event(
    uid: str = "ana",
    card: str = "04A1B2C3",
    *,
    direction: Direction = Direction.IN,
    at: datetime | None = None,
    key: uuid.UUID | None = None,
    outcome: Outcome = Outcome.RECORDED,
    reader: str = "entrance",
) -> ClockEvent:
    return ClockEvent(
        event_key=key or uuid.uuid4(),
        person_uid=uid,
        card_key=card,
        direction=direction,
        reader=reader,
        reader_hw_id="a1b2c3d4",
        received_at=at or datetime.now(UTC),
        outcome=outcome,
    )
