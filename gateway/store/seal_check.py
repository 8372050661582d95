"""Checking the register against its seals: `clock-gateway register verify`.

Everything is recomputed from what is stored, in one consistent snapshot of the
database, and nothing is written. What it finds, by the row's id:

- altered: a sealed row whose values are not those sealed (each column that differs,
  before and now);
- deleted: a seal whose row is gone, or seals missing from the chain (a gap that no
  purge checkpoint accounts for);
- inserted: a row with no seal, stored longer ago than the sealing delay (a sealer
  seals every row within seconds: this one went in behind its back), or a seal that
  does not follow the one before it (a seal slipped into the chain);
- reordered: rows whose values were swapped or moved to another id (a row holds what
  was sealed for another), or seals swapped in the chain;
- heads: a head kept outside the database (the heads log, an export's manifest) that
  the chain no longer has at its position: the chain was rewritten or cut back.

A database owner can rewrite the whole chain consistently; only a head kept earlier
outside the database catches that (docs/REGISTER.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import chain
from gateway.store.chain import (
    DATE_COLUMN,
    GENESIS,
    ROW_KINDS,
    SEALED_COLUMNS,
    Checkpoint,
    Head,
    Link,
)
from gateway.store.database import Database
from gateway.store.seals import KIND_TABLES, link_of, unsealed
from gateway.store.tables import seals

# A row is sealed within seconds of being stored; one older than this without a seal
# did not come through the application (or no sealer ran: see `register seal`).
SEALING_DELAY = timedelta(seconds=60)
# Findings listed in full; beyond, only counted (a wholesale rewrite names every row).
MAX_FINDINGS = 1000
_STREAM = 2000
# The column that says when each kind of row was stored (its age without a seal).
STORED_COLUMN = {
    "event": "stored_at",
    "correction": "created_at",
    "step": "at",
    "regime": "created_at",
    "overtime": "created_at",
    "audit": "at",
}


@dataclass(frozen=True)
class Finding:
    problem: str  # altered, deleted, inserted, reordered, chain, head, purge
    kind: str  # event, correction, audit, checkpoint, seal, head
    row_id: int | None
    seq: int | None
    detail: str
    differences: tuple[tuple[str, Any, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "kind": self.kind,
            "id": self.row_id,
            "seq": self.seq,
            "detail": self.detail,
            "differences": [
                {"column": c, "sealed": before, "now": now} for c, before, now in self.differences
            ],
        }


@dataclass
class Report:
    head: Link | None = None
    first_seq: int | None = None
    seals: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROW_KINDS, 0))
    pending: int = 0  # unsealed rows younger than the sealing delay
    checkpoint: Checkpoint | None = None
    heads: int = 0  # heads checked
    findings: list[Finding] = field(default_factory=list)
    unlisted: int = 0  # findings beyond MAX_FINDINGS

    @property
    def ok(self) -> bool:
        return not self.findings and not self.unlisted

    def add(self, finding: Finding) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)
        else:
            self.unlisted += 1


@dataclass
class _Scan:
    """State carried along the chain while it is read."""

    report: Report
    start: datetime | None
    end: datetime | None
    prev: Link | None = None
    first: Link | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)
    # Rows whose values are not their own seal's: for spotting swaps and moves.
    altered: dict[tuple[str, int], tuple[str, str, int]] = field(default_factory=dict)
    gone: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, payload) -> id

    def in_range(self, kind: str, values: dict[str, Any]) -> bool:
        if self.start is None and self.end is None:
            return True
        when = values.get(DATE_COLUMN[kind])
        if not isinstance(when, str):
            return True
        try:
            at = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return True
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


async def verify(
    db: Database,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    heads: Sequence[Head] = (),
    now: datetime | None = None,
) -> Report:
    """Check the chain and the rows (those dated in [start, end) when given)."""
    report = Report()
    scan = _Scan(report, start, end)
    async with db.tx() as conn:
        if db.dialect == "postgresql":
            # One snapshot for the whole check: the daemon goes on sealing meanwhile.
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            clock = await conn.scalar(text("SELECT now()"))
            now = now or (clock.astimezone(UTC) if isinstance(clock, datetime) else None)
        now = now or datetime.now(UTC)
        result = await conn.stream(_chain_query().execution_options(yield_per=_STREAM))
        async for batch in result.partitions():
            for row in batch:
                _check_link(scan, row)
        _check_start(scan)
        _check_moves(scan)
        for kind in ROW_KINDS:
            await _check_unsealed(conn, scan, kind, now)
        await _check_heads(conn, scan, heads)
    report.head = scan.prev
    report.first_seq = None if scan.first is None else scan.first.seq
    return report


def _row_columns(kind: str, table: Table) -> list[Any]:
    return [table.c.id.label(f"{kind}__id")] + [
        table.c[column].label(f"{kind}__{column}") for column in SEALED_COLUMNS[kind]
    ]


def _chain_query() -> Any:
    query = select(seals)
    for kind, table in KIND_TABLES.items():
        query = query.add_columns(*_row_columns(kind, table)).outerjoin(
            table, and_(seals.c.kind == kind, table.c.id == seals.c.row_id)
        )
    return query.order_by(seals.c.seq)


def _check_link(scan: _Scan, row: Any) -> None:
    link = link_of(row)
    report = scan.report
    report.seals += 1
    prev = scan.prev
    if prev is None:
        scan.first = link
    elif link.seq != prev.seq + 1:
        report.add(
            Finding(
                "deleted",
                "seal",
                None,
                link.seq,
                f"seals {prev.seq + 1}..{link.seq - 1} are missing from the chain: rows and "
                "their seals were deleted",
            )
        )
    elif link.prev != prev.seal:
        report.add(
            Finding(
                "reordered",
                "seal",
                link.row_id,
                link.seq,
                f"seal {link.seq} does not follow seal {prev.seq}: seals were reordered, or "
                "one was slipped into the chain",
            )
        )
    if not link.holds():
        report.add(
            Finding(
                "altered",
                "seal",
                link.row_id,
                link.seq,
                f"seal {link.seq} ({link.kind} {link.row_id}) does not match its own "
                "contents: the seal row was changed",
            )
        )
    scan.prev = link
    if link.kind == chain.CHECKPOINT:
        checkpoint = chain.checkpoint_of(link.payload)
        if checkpoint is None:
            report.add(Finding("altered", "checkpoint", link.row_id, link.seq, "unreadable"))
        else:
            scan.checkpoints.append(checkpoint)
        return
    _check_row(scan, link, row._mapping)


def _check_row(scan: _Scan, link: Link, values: Any) -> None:
    kind = link.kind
    try:
        sealed = json.loads(link.payload)
    except ValueError:
        sealed = {}
    if values[f"{kind}__id"] is None:
        if scan.in_range(kind, sealed):
            scan.report.rows[kind] += 1
            scan.gone[(kind, link.payload)] = link.row_id
            scan.report.add(
                Finding(
                    "deleted",
                    kind,
                    link.row_id,
                    link.seq,
                    f"{kind} {link.row_id} was sealed ({describe(kind, sealed)}) and is gone",
                )
            )
        return
    current = chain.payload(kind, {c: values[f"{kind}__{c}"] for c in SEALED_COLUMNS[kind]})
    if not scan.in_range(kind, json.loads(current)) and not scan.in_range(kind, sealed):
        return
    scan.report.rows[kind] += 1
    if current != link.payload:
        scan.altered[(kind, link.row_id)] = (link.payload, current, link.seq)


def _check_moves(scan: _Scan) -> None:
    """Altered rows, told apart: values swapped between rows, or plainly changed."""
    sealed_for = {(kind, v[0]): row_id for (kind, row_id), v in scan.altered.items()}
    sealed_for.update(scan.gone)
    for (kind, row_id), (sealed, current, seq) in sorted(
        scan.altered.items(), key=lambda item: item[1][2]
    ):
        other = sealed_for.get((kind, current))
        if other is not None and other != row_id:
            scan.report.add(
                Finding(
                    "reordered",
                    kind,
                    row_id,
                    seq,
                    f"{kind} {row_id} now holds what was sealed for {kind} {other} "
                    f"({describe(kind, json.loads(current))}): rows swapped or renumbered",
                )
            )
            continue
        changed = tuple(chain.differences(sealed, current))
        columns = ", ".join(c for c, _, _ in changed)
        scan.report.add(
            Finding(
                "altered",
                kind,
                row_id,
                seq,
                f"{kind} {row_id} differs from its seal in {columns}",
                changed,
            )
        )


def _check_start(scan: _Scan) -> None:
    first, report = scan.first, scan.report
    latest = max(scan.checkpoints, key=lambda c: c.through_seq, default=None)
    report.checkpoint = latest
    for checkpoint in scan.checkpoints:
        if checkpoint.missing:
            report.add(
                Finding(
                    "purge",
                    "checkpoint",
                    None,
                    checkpoint.through_seq,
                    f"the purge of the rows before {checkpoint.before} found "
                    f"{checkpoint.missing} of them already gone or altered",
                )
            )
    if first is None:
        if latest is not None:
            report.add(Finding("deleted", "seal", None, None, "every seal is gone"))
        return
    if first.seq == 1:
        if first.prev != GENESIS:
            report.add(
                Finding(
                    "altered", "seal", first.row_id, 1, "the first seal does not start the chain"
                )
            )
        return
    anchors = [c for c in scan.checkpoints if c.through_seq == first.seq - 1]
    if not any(c.through_seal == first.prev for c in anchors):
        report.add(
            Finding(
                "deleted",
                "seal",
                None,
                first.seq,
                f"seals 1..{first.seq - 1} are gone and no purge checkpoint accounts for "
                "them: the start of the register was deleted",
            )
        )


async def _check_unsealed(conn: AsyncConnection, scan: _Scan, kind: str, now: datetime) -> None:
    table = KIND_TABLES[kind]
    query = select(table).where(unsealed(kind, table)).order_by(table.c.id)
    date = table.c[DATE_COLUMN[kind]]
    if scan.start is not None:
        query = query.where(date >= scan.start)
    if scan.end is not None:
        query = query.where(date < scan.end)
    result = await conn.stream(query.execution_options(yield_per=_STREAM))
    async for batch in result.partitions():
        for row in batch:
            stored = row._mapping[STORED_COLUMN[kind]]
            if now - stored < SEALING_DELAY:
                scan.report.pending += 1
                continue
            body = chain.payload(kind, row._mapping)
            moved_from = scan.gone.get((kind, body))
            age = _age(now - stored)
            if moved_from is not None:
                detail = (
                    f"{kind} {row.id} has no seal and holds what was sealed for {kind} "
                    f"{moved_from}: the row was renumbered"
                )
                problem = "reordered"
            else:
                detail = (
                    f"{kind} {row.id} has no seal, stored {age} ago "
                    f"({describe(kind, json.loads(body))}): inserted out of band, or no "
                    "sealer has run since"
                )
                problem = "inserted"
            scan.report.add(Finding(problem, kind, int(row.id), None, detail))


async def _check_heads(conn: AsyncConnection, scan: _Scan, heads: Sequence[Head]) -> None:
    if not heads:
        return
    report = scan.report
    wanted = sorted({h.seq for h in heads})
    stored = {
        int(r.seq): r.seal
        for r in await conn.execute(
            select(seals.c.seq, seals.c.seal).where(seals.c.seq.in_(wanted))
        )
    }
    last = 0 if scan.prev is None else scan.prev.seq
    anchor = report.checkpoint
    for head in heads:
        report.heads += 1
        found = stored.get(head.seq)
        if found == head.seal:
            continue
        if anchor is not None and head.seq <= anchor.through_seq:
            if head.seq == anchor.through_seq and head.seal != anchor.through_seal:
                report.add(_head_finding(head, anchor.through_seal, "the purge checkpoint has"))
            continue  # purged legitimately: nothing left to hold it against
        if found is not None:
            report.add(_head_finding(head, found, "the chain has"))
        elif head.seq > last:
            report.add(
                Finding(
                    "head",
                    "head",
                    None,
                    head.seq,
                    f"head {head.text()} was recorded, but the chain ends at seal {last}: "
                    "the end of the register was deleted",
                )
            )
        else:
            report.add(
                Finding("head", "head", None, head.seq, f"head {head.text()}: its seal is gone")
            )


def _head_finding(head: Head, found: str, where: str) -> Finding:
    return Finding(
        "head",
        "head",
        None,
        head.seq,
        f"head {head.seq} was recorded as {head.seal[:16]}..., {where} {found[:16]}...: "
        "the chain was rewritten",
    )


def describe(kind: str, values: dict[str, Any]) -> str:
    """A sealed row in a few words, for people."""
    if kind == "event":
        return (
            f"{values.get('person_uid')} {values.get('direction')} at "
            f"{values.get('received_at')} on {values.get('reader')}"
        )
    if kind == "correction":
        return f"{values.get('kind')} for {values.get('person_uid')} by {values.get('created_by')}"
    if kind == "step":
        return (
            f"{values.get('step')} by {values.get('actor')} ({values.get('side')}) of "
            f"correction {values.get('correction_id')}"
        )
    if kind == "regime":
        return (
            f"{values.get('kind')} from {values.get('valid_from')} for "
            f"{values.get('person_uid')} by {values.get('created_by')}"
        )
    if kind == "overtime":
        return (
            f"{values.get('choice')} for {values.get('person_uid')} in {values.get('month')} "
            f"by {values.get('created_by')}"
        )
    return f"{values.get('action')} by {values.get('actor')} at {values.get('at')}"


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
