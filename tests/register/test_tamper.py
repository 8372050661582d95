"""Issue 21 item 2: every tampering of the register is caught, on PostgreSQL and SQLite.

Each test seals a register, then tampers with it as its owner would (straight SQL, the
append-only triggers dropped first) and checks that `verify` names the row and what
changed. Without the seals none of these changes leaves a trace: every such test fails.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.store import chain
from gateway.store.seal_check import SEALING_DELAY
from gateway.store.seals import KIND_TABLES, link_of
from gateway.store.tables import seals
from tests.register.support import attack, check, fill, problems
from tests.store.support import open_stores, sql


async def _sealed(url: str) -> None:
    async with open_stores(url) as stores:
        await fill(stores)
        assert (await stores.seals.seal_pending()).sealed == 4 + 2 + 5
        report = await check(stores)
        assert report.ok, report.findings
        counted = {k: n for k, n in report.rows.items() if n}
        assert counted == {"event": 4, "correction": 2, "audit": 5}


async def test_an_altered_row_is_named_with_what_changed(db_url: str) -> None:
    await _sealed(db_url)
    # An hour less of work for Ana, and a correction's reason rewritten.
    before = sql(db_url, "SELECT received_at FROM clock_events WHERE id = 3")[0][0]
    if db_url.startswith("sqlite"):
        moved = (
            "UPDATE clock_events SET received_at = datetime(received_at, '-1 hour') WHERE id = 3"
        )
    else:
        moved = "UPDATE clock_events SET received_at = received_at - interval '1 hour' WHERE id = 3"
    attack(db_url, moved, "UPDATE corrections SET reason = 'approved by HR' WHERE id = 1")
    async with open_stores(db_url, init=False) as stores:
        report = await check(stores)
    assert not report.ok
    assert problems(report) == [("altered", "event", 3), ("altered", "correction", 1)]
    [(column, sealed, now)] = report.findings[0].differences
    assert column == "received_at" and sealed != now
    assert sealed.startswith(str(before)[:10])
    assert report.findings[1].differences == (("reason", "card forgotten", "approved by HR"),)
    assert report.findings[0].seq is not None


async def test_a_deleted_row_is_named(db_url: str) -> None:
    await _sealed(db_url)
    # The row alone (its seal stays), and an audit row with its seal (a gap in the chain).
    audit_seq = sql(db_url, "SELECT seq FROM seals WHERE kind = 'audit' AND row_id = 2")[0][0]
    attack(
        db_url,
        "DELETE FROM clock_events WHERE id = 4",
        "DELETE FROM audit_log WHERE id = 2",
        f"DELETE FROM seals WHERE seq = {audit_seq}",
    )
    async with open_stores(db_url, init=False) as stores:
        report = await check(stores)
    found = problems(report)
    assert ("deleted", "event", 4) in found
    assert ("deleted", "seal", None) in found  # the gap
    gap = next(f for f in report.findings if f.kind == "seal")
    assert f"seals {audit_seq}..{audit_seq}" in gap.detail
    assert "ana out at" in next(f.detail for f in report.findings if f.row_id == 4)


async def test_a_row_inserted_out_of_band_is_named(db_url: str) -> None:
    await _sealed(db_url)
    # A tap Ana never made, stored "two minutes ago" while no sealer ran.
    stored = datetime.now(UTC) - SEALING_DELAY - timedelta(minutes=1)
    when = stored - timedelta(hours=3)
    params = (stored, when) if db_url.startswith("postgresql") else (_lite(stored), _lite(when))
    attack(
        db_url,
        "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
        "stored_at, received_at) VALUES (?, 'ana', '04A1B2C3', 'in', 'entrance', ?, ?)",
        params=(_key(db_url), *params),
    )
    async with open_stores(db_url, init=False) as stores:
        report = await check(stores)
    assert problems(report) == [("inserted", "event", 5)]
    assert "no seal" in report.findings[0].detail
    # A row stored a moment ago is only waiting for the sealer: no finding.
    attack(
        db_url,
        "INSERT INTO audit_log (actor, action) VALUES ('cli:root', 'login.failed')",
    )
    async with open_stores(db_url, init=False) as stores:
        report = await check(stores)
    assert problems(report) == [("inserted", "event", 5)] and report.pending == 1


def _key(url: str) -> str:
    # How each backend stores a uuid column (PostgreSQL: uuid; SQLite: 32 hex digits).
    return str(uuid.UUID(int=1)) if url.startswith("postgresql") else uuid.UUID(int=1).hex


def _lite(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def test_reordered_rows_and_seals_are_named(db_url: str) -> None:
    await _sealed(db_url)
    # Two of Ana's taps swap places (their ids), and two seals swap positions.
    attack(
        db_url,
        "UPDATE clock_events SET id = 1000 WHERE id = 1",
        "UPDATE clock_events SET id = 1 WHERE id = 3",
        "UPDATE clock_events SET id = 3 WHERE id = 1000",
    )
    async with open_stores(db_url, init=False) as stores:
        report = await check(stores)
    assert problems(report) == [("reordered", "event", 1), ("reordered", "event", 3)]
    assert "holds what was sealed for event 3" in report.findings[0].detail

    attack(
        db_url,
        "UPDATE clock_events SET id = 1000 WHERE id = 1",
        "UPDATE clock_events SET id = 1 WHERE id = 3",
        "UPDATE clock_events SET id = 3 WHERE id = 1000",  # back as they were
        "UPDATE seals SET seq = 1000 WHERE seq = 6",
        "UPDATE seals SET seq = 6 WHERE seq = 7",
        "UPDATE seals SET seq = 7 WHERE seq = 1000",
    )
    async with open_stores(db_url, init=False) as stores:
        report = await check(stores)
    kinds = {(f.problem, f.kind) for f in report.findings}
    assert ("reordered", "seal") in kinds
    assert {f.seq for f in report.findings} >= {6, 7}


async def test_a_chain_rewritten_wholesale_is_caught_by_a_head_kept_outside(
    db_url: str,
) -> None:
    await _sealed(db_url)
    async with open_stores(db_url, init=False) as stores:
        kept = await stores.seals.head()
    assert kept is not None
    head = chain.Head(kept.seq, kept.seal)
    # The attacker knows the recipe: alter a row, then recompute every seal after it.
    attack(db_url, "UPDATE clock_events SET direction = 'out' WHERE id = 1")
    await _reseal_everything(db_url)
    async with open_stores(db_url, init=False) as stores:
        blind = await check(stores)
        assert blind.ok  # consistent again: only a head from before can tell
        report = await check(stores, heads=[head])
    assert problems(report) == [("head", "head", None)]
    assert "rewritten" in report.findings[0].detail

    # Cutting the end off (the last rows and their seals) is caught the same way.
    attack(db_url, f"DELETE FROM seals WHERE seq > {kept.seq - 2}")
    async with open_stores(db_url, init=False) as stores:
        report = await check(stores, heads=[head])
    assert any("the end of the register was deleted" in f.detail for f in report.findings)


async def _reseal_everything(url: str) -> None:
    """What an attacker who read docs/REGISTER.md does: every seal recomputed."""
    tail: tuple[int, str] | None = None
    async with open_stores(url, init=False) as stores, stores.db.tx() as conn:
        links = [link_of(r) for r in await conn.execute(select(seals).order_by(seals.c.seq))]
        bodies = []
        for link in links:
            table = KIND_TABLES[link.kind]
            row = (await conn.execute(select(table).where(table.c.id == link.row_id))).one()
            bodies.append(chain.payload(link.kind, row._mapping))
    for link, body in zip(links, bodies, strict=True):
        new = chain.next_link(tail, link.kind, link.row_id, body, link.sealed_at)
        sql(
            url,
            "UPDATE seals SET payload = ?, prev = ?, seal = ? WHERE seq = ?",
            (new.payload, new.prev, new.seal, new.seq),
        )
        tail = (new.seq, new.seal)
