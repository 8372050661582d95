"""Sealing the register: every clock event, correction, correction step, working regime,
overtime choice and audit row into one chain.

The swipe path is left exactly as it was (one statement per batch on PostgreSQL):
rows are sealed afterwards, by `SealStore.seal_pending`, which the daemon calls every
few seconds (gateway/daemon/sealer.py) and `register seal` calls once. Each call finds
the rows that have no seal yet and appends a seal per row to the `seals` table, events
first, each kind in the order of its ids (chain.py has the rules).

A fleet shares one chain. Any number of gateways may try to seal at once: on PostgreSQL
the write takes a transaction-scoped advisory lock (one sealer at a time; the others
skip their turn, there is nothing left for them), on SQLite BEGIN IMMEDIATE is the
lock. Spools replayed late and imports need nothing special: their rows get ids when
they are stored, and are sealed within seconds like any other.

Finding the unsealed rows cheaply: a row is looked for only above a floor per kind,
below which everything is known sealed. A row can still appear below the highest id
seen (on PostgreSQL ids are taken before commit, and two swipe lanes and an import may
commit out of order), so the floor moves only past ids that can no longer change: on
SQLite, where the one writer commits in id order, to the highest id this process has
sealed up to; on PostgreSQL, to the highest ids seen one round earlier, once every
transaction that was running at the following round has ended (pg_current_snapshot:
its xmin passed that round's xmax). A fresh process starts from zero: one full look.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, exists, func, insert, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import chain
from gateway.store.chain import ROW_KINDS, Link
from gateway.store.database import Database
from gateway.store.tables import (
    audit_log,
    clock_events,
    correction_steps,
    corrections,
    overtime_choices,
    seals,
    work_regimes,
)

KIND_TABLES: dict[str, Table] = {
    "event": clock_events,
    "correction": corrections,
    "step": correction_steps,
    "regime": work_regimes,
    "overtime": overtime_choices,
    "audit": audit_log,
}
# One sealer at a time per PostgreSQL database (the retention purge takes it too).
SEAL_LOCK_KEY = 0x7365616C73  # "seals"
# Rows per sealing transaction: short, so that on SQLite the swipe path's writes wait
# a few milliseconds at most, and the event loop is never busy sealing for longer than
# that (about 25 us of CPU per row).
SEAL_BATCH = 200


@dataclass(frozen=True)
class SealRound:
    sealed: int  # rows sealed by this call
    pending: int  # rows seen unsealed and left so (another sealer had the lock)
    busy: bool  # another sealer held the lock
    head: Link | None  # the chain's last link after this call, when it sealed something


def unsealed(kind: str, table: Table) -> Any:
    """WHERE clause: the row has no seal."""
    return ~exists().where(seals.c.kind == kind, seals.c.row_id == table.c.id)


def link_of(row: Any) -> Link:
    return Link(
        seq=int(row.seq),
        kind=row.kind,
        row_id=int(row.row_id),
        payload=row.payload,
        prev=row.prev,
        seal=row.seal,
        sealed_at=row.sealed_at,
    )


async def lock_chain(conn: AsyncConnection, dialect: str, *, wait: bool) -> bool:
    """Take the sealer's lock for this transaction (SQLite: BEGIN IMMEDIATE has it)."""
    if dialect != "postgresql":
        return True
    if wait:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEAL_LOCK_KEY})
        return True
    got = await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEAL_LOCK_KEY})
    return bool(got)


async def chain_tail(conn: AsyncConnection) -> Link | None:
    row = (await conn.execute(select(seals).order_by(seals.c.seq.desc()).limit(1))).first()
    return None if row is None else link_of(row)


async def sealing_time(conn: AsyncConnection, dialect: str) -> datetime:
    """The database's clock on PostgreSQL (the one stored_at comes from), else this host's."""
    if dialect == "postgresql":
        now = await conn.scalar(text("SELECT now()"))
        if isinstance(now, datetime):
            return now.astimezone(UTC)
    return datetime.now(UTC)


async def seal_rows(
    conn: AsyncConnection,
    tail: Link | None,
    found: Sequence[tuple[str, int]],
    now: datetime,
) -> tuple[int, Link | None]:
    """Seal the rows `found` that are still unsealed, in the caller's locked transaction;
    (how many, the new tail)."""
    links: list[Link] = []
    last = None if tail is None else (tail.seq, tail.seal)
    for kind in ROW_KINDS:
        ids = [row_id for k, row_id in found if k == kind]
        if not ids:
            continue
        table = KIND_TABLES[kind]
        query = (
            select(table)
            .where(table.c.id.in_(bindparam("ids", expanding=True)), unsealed(kind, table))
            .order_by(table.c.id)
        )
        for row in await conn.execute(query, {"ids": ids}):
            link = chain.next_link(last, kind, int(row.id), chain.payload(kind, row._mapping), now)
            links.append(link)
            last = (link.seq, link.seal)
    if links and conn.dialect.name == "postgresql":
        # One statement for the batch (an executemany would be one per row).
        batch = json.dumps(
            [{**link_values(k), "sealed_at": chain.canonical_time(k.sealed_at)} for k in links],
            ensure_ascii=False,
        )
        await conn.execute(_PG_INSERT, {"rows": batch})
    elif links:
        await conn.execute(insert(seals), [link_values(k) for k in links])
    return len(links), links[-1] if links else tail


_PG_INSERT = text(
    "INSERT INTO seals (seq, kind, row_id, payload, prev, seal, sealed_at) "
    "SELECT seq, kind, row_id, payload, prev, seal, sealed_at "
    "FROM json_populate_recordset(NULL::seals, CAST(:rows AS json))"
)


def link_values(link: Link) -> dict[str, Any]:
    """A link as a row of the seals table."""
    return {
        "seq": link.seq,
        "kind": link.kind,
        "row_id": link.row_id,
        "payload": link.payload,
        "prev": link.prev,
        "seal": link.seal,
        "sealed_at": link.sealed_at,
    }


class SealStore:
    """seal_pending, head; keeps the floors of this process between calls."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        # The sealing time; None: the database's clock (tests seal "years ago" with it).
        self._clock = clock
        self._floors = dict.fromkeys(ROW_KINDS, 0)
        # PostgreSQL: the highest ids of the previous round, and (xid that must have
        # ended, highest ids) pairs waiting for it.
        self._last_maxes: dict[str, int] | None = None
        self._waiting: deque[tuple[int, dict[str, int]]] = deque()

    async def head(self) -> Link | None:
        """The chain's last link (None: nothing sealed yet)."""
        async with self._db.tx() as conn:
            return await chain_tail(conn)

    async def seal_pending(self, *, batch: int = SEAL_BATCH, pause_s: float = 0.0) -> SealRound:
        """Seal every row stored and not yet sealed, `batch` rows per transaction,
        `pause_s` between transactions (the daemon's: swipes run in between)."""
        settled = await self._settled()
        sealed, head = 0, None
        while True:
            if sealed:
                await asyncio.sleep(pause_s)
            found = await self._discover(batch)
            if not found:
                break
            result = await self._seal(found)
            if result is None:
                return SealRound(sealed, len(found), True, head)
            count, head = result
            sealed += count
            if len(found) < batch:
                break
        for kind, ceiling in settled.items():
            self._floors[kind] = max(self._floors[kind], ceiling)
        return SealRound(sealed, 0, False, head)

    async def _settled(self) -> dict[str, int]:
        """Per kind, an id at or below which no row can appear any more."""
        maxes = [func.coalesce(select(func.max(t.c.id)).scalar_subquery(), 0) for t in _tables()]
        async with self._db.tx() as conn:
            if self._db.dialect != "postgresql":
                row = (await conn.execute(select(*maxes))).one()
                return dict(zip(ROW_KINDS, map(int, row), strict=True))
            snapshot = (
                await conn.execute(
                    text(
                        "SELECT pg_snapshot_xmin(s)::text::bigint, "
                        "pg_snapshot_xmax(s)::text::bigint FROM pg_current_snapshot() AS s"
                    )
                )
            ).one()
            row = (await conn.execute(select(*maxes))).one()
        xmin, xmax = int(snapshot[0]), int(snapshot[1])
        now_maxes = dict(zip(ROW_KINDS, map(int, row), strict=True))
        # The ids seen last round may still be joined by lower ones from transactions
        # that took their id before that snapshot and their xid just after: every
        # such transaction started before this one (xid < xmax) and must end first.
        if self._last_maxes is not None:
            self._waiting.append((xmax, self._last_maxes))
        self._last_maxes = now_maxes
        settled = dict.fromkeys(ROW_KINDS, 0)
        while self._waiting and self._waiting[0][0] <= xmin:
            settled = self._waiting.popleft()[1]
        return settled

    async def _discover(self, batch: int) -> list[tuple[str, int]]:
        parts = [
            select(literal(rank).label("rank"), table.c.id.label("id")).where(
                table.c.id > self._floors[kind], unsealed(kind, table)
            )
            for rank, (kind, table) in enumerate(KIND_TABLES.items())
        ]
        query = union_all(*parts).order_by(text("rank"), text("id")).limit(batch)
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [(ROW_KINDS[int(r.rank)], int(r.id)) for r in rows]

    async def _seal(self, found: Sequence[tuple[str, int]]) -> tuple[int, Link | None] | None:
        """Seal `found` under the lock; None when another sealer holds it."""
        dialect = self._db.dialect
        async with self._db.tx(write=True) as conn:
            if not await lock_chain(conn, dialect, wait=False):
                return None
            now = self._clock() if self._clock else await sealing_time(conn, dialect)
            return await seal_rows(conn, await chain_tail(conn), found, now)


def _tables() -> list[Table]:
    return [KIND_TABLES[kind] for kind in ROW_KINDS]
