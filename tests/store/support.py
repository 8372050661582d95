"""Helpers for store tests: open a repository, and look at the database directly.

The direct look goes through the plain synchronous drivers, not the repository, so
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
from gateway.store.repository import Repository


@asynccontextmanager
async def open_repo(
    url: str, *, init: bool = True, connect_timeout: float = 3.0
) -> AsyncIterator[Repository]:
    repo = Repository.from_url(url, connect_timeout=connect_timeout)
    try:
        if init:
            await repo.init_schema()
        yield repo
    finally:
        await repo.close()


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
