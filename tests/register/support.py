"""Helpers for the register's tests: a register with every kind of row, and an attacker.

The attacker works as the database's owner, straight through the drivers, and drops
the append-only triggers first, as someone who owns the database would: what must
catch the tampering is the seals, not the guards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.domain import Direction
from gateway.store.audit import Actor
from gateway.store.holdings import assign_card, insert_person
from gateway.store.seal_check import Report, verify
from gateway.store.stores import Stores
from gateway.store.tables import REGISTER_GUARDED
from tests.store.support import event, sql

ADMIN = Actor("admin", "192.0.2.7")


async def existing_person(stores: Stores, uid: str, name: str, card: str | None = None) -> None:
    """A person (and card) straight into the tables, with no audit row: someone who was
    there before the register began, so the chain holds only what a test adds."""
    async with stores.db.tx(write=True) as conn:
        await insert_person(conn, uid, name)
        if card is not None:
            await assign_card(conn, card, uid)


async def fill(stores: Stores, *, events: int = 4) -> None:
    """Two people, `events` taps of Ana's, a correction of each kind (the void one with
    two taps or more): every kind of row."""
    await stores.lifecycle.add_person("ana", "Ana García", ADMIN)
    await stores.lifecycle.assign_card("04A1B2C3", "ana", ADMIN)
    await stores.lifecycle.add_person("bob", "Bob", ADMIN)
    start = datetime.now(UTC) - timedelta(hours=8)
    taps = [
        event(
            "ana",
            at=start + timedelta(hours=n),
            direction=Direction.IN if n % 2 == 0 else Direction.OUT,
        )
        for n in range(events)
    ]
    await stores.swipes.record_events(taps)
    await stores.corrections.add_missing("bob", "in", start, "card forgotten", ADMIN)
    if events >= 2:
        await stores.corrections.void(2, "tapped by mistake", ADMIN)


def drop_guards(url: str) -> None:
    """What an owner does before tampering: the triggers go first."""
    for table, _ in REGISTER_GUARDED:
        if url.startswith("sqlite:///"):
            sql(url, f"DROP TRIGGER IF EXISTS {table}_no_update")
            sql(url, f"DROP TRIGGER IF EXISTS {table}_no_delete")
        else:
            sql(url, f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            sql(url, f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


def attack(url: str, *statements: str, params: tuple[Any, ...] = ()) -> None:
    drop_guards(url)
    for statement in statements:
        sql(url, statement, params)


async def check(stores: Stores, **kwargs: Any) -> Report:
    return await verify(stores.db, **kwargs)


def problems(report: Report) -> list[tuple[str, str, int | None]]:
    return [(f.problem, f.kind, f.row_id) for f in report.findings]
