"""The retention purge: the oldest part of the register goes when the law lets it.

What may go is a prefix of the chain, seals 1..S, the longest one in which every seal
and every row is older than the cut-off: the events by received_at, the corrections
by created_at (when the change was made: a change is kept as long as the record it
changed), the audit rows by at. A void correction still kept holds its event back (and
so everything sealed after that event), and so does a row stored late, such as an
import of old records: a row goes once everything sealed before it may go too. Rows
are therefore kept at least the retention period, sometimes longer, never shorter.
Since schema v5 a correction's steps go with it (a correction whose later steps are
kept holds back like a voiding one), and a working regime still in force at the
cut-off is copied forward (a new row, sealed after the checkpoint) before the old
row goes, so that no person is left without the regime their days are counted by.

One transaction, under the sealer's lock: the rows of the prefix and their seals are
deleted (the triggers allow deleting rows older than the legal minimum only), an
`events.purge` audit row records what went, and a `checkpoint` seal appended to the
chain names the last seal removed, so that the rest of the chain still verifies from
it. People erased earlier (store/lifecycle.py) whose last records went are deleted.
If a row of the prefix was already missing or altered, the checkpoint says how many:
the purge does not silently destroy the evidence (`register verify` reports it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import chain, validate
from gateway.store.audit import Actor
from gateway.store.chain import DATE_COLUMN, ROW_KINDS, SEALED_COLUMNS, Checkpoint
from gateway.store.database import Database
from gateway.store.seals import (
    KIND_TABLES,
    chain_tail,
    link_values,
    lock_chain,
    seal_rows,
    sealing_time,
)
from gateway.store.tables import (
    accounts,
    audit_log,
    cards,
    clock_events,
    correction_steps,
    corrections,
    open_day_notices,
    overtime_choices,
    people,
    seals,
    work_regimes,
)


@dataclass(frozen=True)
class PurgeResult:
    before: datetime
    through_seq: int  # the last seal removed; 0 when nothing could go
    events: int
    corrections: int
    audit: int
    seals: int
    missing: int  # rows of the removed part that were already gone or altered
    people: int  # erased people whose last records went


class RetentionStore:
    """plan (what a purge would remove), purge."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def plan(self, before: datetime) -> PurgeResult:
        before = validate.aware(before, "before")
        async with self._db.tx() as conn:
            end = await prefix_end(conn, before)
            counts = await _counts(conn, end)
        return PurgeResult(before, end, *counts, 0, 0)

    async def purge(self, before: datetime, actor: Actor) -> PurgeResult:
        """Remove the prefix of the register older than `before` (see the module)."""
        before = validate.aware(before, "before")
        dialect = self._db.dialect
        async with self._db.tx(write=True) as conn:
            await lock_chain(conn, dialect, wait=True)
            end = await prefix_end(conn, before)
            tail = await chain_tail(conn)
            missing = await _missing(conn, end) if end else 0
            counts = (0, 0, 0, 0)
            anchor = None
            carried: list[int] = []
            if end and tail is not None:
                anchor = await conn.scalar(select(seals.c.seal).where(seals.c.seq == end))
                carried = await _carry_regimes(conn, end, before)
                counts = await _remove(conn, end)
            erased = await _finish_erasures(conn)
            events, corrections_gone, audit_gone, seals_gone = counts
            details = {
                "before": before.isoformat(),
                "through_seq": end,
                "events": events,
                "corrections": corrections_gone,
                "audit": audit_gone,
                "seals": seals_gone,
                "missing": missing,
                "people": erased,
                "regimes_carried": len(carried),
            }
            audit_id = await _audit(conn, actor, details)
            now = await sealing_time(conn, dialect)
            if anchor is not None and tail is not None:
                mark = Checkpoint(
                    before=chain.canonical_time(before),
                    through_seq=end,
                    through_seal=str(anchor),
                    removed={
                        "event": events,
                        "correction": corrections_gone,
                        "audit": audit_gone,
                        "seals": seals_gone,
                    },
                    missing=missing,
                )
                link = chain.next_link(
                    (tail.seq, tail.seal), chain.CHECKPOINT, audit_id, mark.payload(), now
                )
                await conn.execute(insert(seals).values(**link_values(link)))
                tail = link
            # The purge's own audit row is sealed at once, after its checkpoint.
            # The regimes carried forward too, after it (ROW_KINDS order).
            found = [*(("regime", row_id) for row_id in carried), ("audit", audit_id)]
            await seal_rows(conn, tail, found, now)
        return PurgeResult(before, end, *counts, missing, erased)


async def prefix_end(conn: AsyncConnection, before: datetime) -> int:
    """The last seal of the longest prefix of the chain that may go (0: none)."""
    first, last = (await conn.execute(select(func.min(seals.c.seq), func.max(seals.c.seq)))).one()
    if first is None:
        return 0
    young = await conn.scalar(select(func.min(seals.c.seq)).where(seals.c.sealed_at >= before))
    end = int(last) if young is None else int(young) - 1
    while end >= int(first):
        limits = [await _first_young_row(conn, kind, end, before) for kind in ROW_KINDS]
        limits.append(await _first_event_still_corrected(conn, end))
        limits.append(await _first_correction_with_later_steps(conn, end))
        new_end = min([end] + [seq - 1 for seq in limits if seq is not None])
        if new_end == end:
            return end
        end = new_end
    return 0


async def _first_young_row(
    conn: AsyncConnection, kind: str, end: int, before: datetime
) -> int | None:
    table = KIND_TABLES[kind]
    joined = seals.join(table, and_(seals.c.kind == kind, table.c.id == seals.c.row_id))
    query = (
        select(func.min(seals.c.seq))
        .select_from(joined)
        .where(seals.c.seq <= end, table.c[DATE_COLUMN[kind]] >= before)
    )
    found = await conn.scalar(query)
    return None if found is None else int(found)


async def _first_event_still_corrected(conn: AsyncConnection, end: int) -> int | None:
    """The first event of the prefix that a correction outside it voids."""
    event_seal = seals.alias("event_seal")
    correction_seal = seals.alias("correction_seal")
    query = (
        select(func.min(event_seal.c.seq))
        .select_from(
            corrections.join(
                event_seal,
                and_(event_seal.c.kind == "event", event_seal.c.row_id == corrections.c.event_id),
            ).outerjoin(
                correction_seal,
                and_(
                    correction_seal.c.kind == "correction",
                    correction_seal.c.row_id == corrections.c.id,
                ),
            )
        )
        .where(
            event_seal.c.seq <= end,
            or_(correction_seal.c.seq.is_(None), correction_seal.c.seq > end),
        )
    )
    found = await conn.scalar(query)
    return None if found is None else int(found)


async def _first_correction_with_later_steps(conn: AsyncConnection, end: int) -> int | None:
    """The first correction of the prefix that a step outside it names (its trail is
    kept whole: a step cannot outlive its correction, the foreign key says so)."""
    correction_seal = seals.alias("correction_seal")
    step_seal = seals.alias("step_seal")
    query = (
        select(func.min(correction_seal.c.seq))
        .select_from(
            correction_steps.join(
                correction_seal,
                and_(
                    correction_seal.c.kind == "correction",
                    correction_seal.c.row_id == correction_steps.c.correction_id,
                ),
            ).outerjoin(
                step_seal,
                and_(step_seal.c.kind == "step", step_seal.c.row_id == correction_steps.c.id),
            )
        )
        .where(
            correction_seal.c.seq <= end,
            or_(step_seal.c.seq.is_(None), step_seal.c.seq > end),
        )
    )
    found = await conn.scalar(query)
    return None if found is None else int(found)


async def _carry_regimes(conn: AsyncConnection, end: int, before: datetime) -> list[int]:
    """Copy forward each regime of the prefix still in force at the cut-off (the newest
    one of its person that began by then), so that removing an old row never leaves a
    person without the regime their later days are counted by; the ids of the copies.

    A regime is a register row like the others, so the copy is a new row (same person,
    valid_from and terms, created now by 'retention'), sealed after the checkpoint."""
    newer = work_regimes.alias("newer")
    superseded = exists().where(
        newer.c.person_uid == work_regimes.c.person_uid,
        newer.c.valid_from > work_regimes.c.valid_from,
        newer.c.valid_from <= before.date(),
    )
    prefix = select(seals.c.row_id).where(seals.c.kind == "regime", seals.c.seq <= end)
    query = select(work_regimes).where(work_regimes.c.id.in_(prefix.scalar_subquery()), ~superseded)
    copied: list[int] = []
    for row in (await conn.execute(query.order_by(work_regimes.c.id))).all():
        values = {
            c: row._mapping[c]
            for c in (
                "person_uid",
                "valid_from",
                "kind",
                "weekly_minutes",
                "part_time_percent",
                "place",
                "overtime_default",
            )
        }
        row_id = await conn.scalar(
            insert(work_regimes)
            .values(**values, created_by="retention")
            .returning(work_regimes.c.id)
        )
        copied.append(int(row_id))
    return copied


async def _counts(conn: AsyncConnection, end: int) -> tuple[int, int, int, int]:
    rows = await conn.execute(
        select(seals.c.kind, func.count()).where(seals.c.seq <= end).group_by(seals.c.kind)
    )
    per_kind = {kind: int(n) for kind, n in rows}
    return (
        per_kind.get("event", 0),
        per_kind.get("correction", 0),
        per_kind.get("audit", 0),
        sum(per_kind.values()),
    )


async def _missing(conn: AsyncConnection, end: int) -> int:
    """Rows of the prefix that are gone or no longer what was sealed."""
    missing = 0
    for kind in ROW_KINDS:
        table = KIND_TABLES[kind]
        columns = [table.c.id, *(table.c[c] for c in SEALED_COLUMNS[kind])]
        query = (
            select(seals.c.payload, *columns)
            .select_from(
                seals.outerjoin(table, and_(seals.c.kind == kind, table.c.id == seals.c.row_id))
            )
            .where(seals.c.kind == kind, seals.c.seq <= end)
        )
        for row in await conn.execute(query):
            values = row._mapping
            if values["id"] is None or chain.payload(kind, values) != values["payload"]:
                missing += 1
    return missing


async def _remove(conn: AsyncConnection, end: int) -> tuple[int, int, int, int]:
    """Delete the prefix's rows (corrections before the events they name) and seals."""
    gone: dict[str, int] = {}
    # An open-day notice is operational: it goes with the correction it proposed.
    proposed = select(seals.c.row_id).where(seals.c.kind == "correction", seals.c.seq <= end)
    await conn.execute(
        delete(open_day_notices).where(
            open_day_notices.c.correction_id.in_(proposed.scalar_subquery())
        )
    )
    for kind in ("step", "correction", "event", "regime", "overtime", "audit"):
        table = KIND_TABLES[kind]
        ids = select(seals.c.row_id).where(seals.c.kind == kind, seals.c.seq <= end)
        result = await conn.execute(delete(table).where(table.c.id.in_(ids.scalar_subquery())))
        gone[kind] = int(result.rowcount or 0)
    removed = await conn.execute(delete(seals).where(seals.c.seq <= end))
    return gone["event"], gone["correction"], gone["audit"], int(removed.rowcount or 0)


async def _finish_erasures(conn: AsyncConnection) -> int:
    """Delete the people erased earlier that no record refers to any more."""
    referred = or_(
        exists().where(clock_events.c.person_uid == people.c.uid),
        exists().where(corrections.c.person_uid == people.c.uid),
        exists().where(work_regimes.c.person_uid == people.c.uid),
        exists().where(overtime_choices.c.person_uid == people.c.uid),
        exists().where(open_day_notices.c.person_uid == people.c.uid),
        exists().where(accounts.c.person_uid == people.c.uid),
    )
    uids = list(
        (
            await conn.execute(
                select(people.c.uid).where(people.c.erased_at.is_not(None), ~referred)
            )
        ).scalars()
    )
    if not uids:
        return 0
    await conn.execute(delete(cards).where(cards.c.person_uid.in_(uids)))
    await conn.execute(delete(people).where(people.c.uid.in_(uids)))
    return len(uids)


async def _audit(conn: AsyncConnection, actor: Actor, details: dict[str, object]) -> int:
    row_id = await conn.scalar(
        insert(audit_log)
        .values(
            actor=actor.name,
            address=actor.address,
            action="events.purge",
            details=json.dumps(details, ensure_ascii=False, default=str),
        )
        .returning(audit_log.c.id)
    )
    return int(row_id)
