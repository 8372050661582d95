"""The audit log: who changed what, when and from where (web or CLI).

Rows are only ever added (and pseudonymised when a person is erased). Stores that
change something write their row in the same transaction as the change, through
`write_audit`, so a change is never without its row nor a row without its change.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.database import Database
from gateway.store.folding import fold, fold_sql, like_pattern, search_words
from gateway.store.tables import audit_log


@dataclass(frozen=True)
class Actor:
    """Who acts: an admin's username (web), or 'cli:<os user>'; the client address."""

    name: str
    address: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (a container's random uid)
            user = "unknown"
        return cls(f"cli:{user}")


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    address: str | None
    action: str
    target: str | None
    details: dict[str, Any]


async def write_audit(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    await conn.execute(
        insert(audit_log).values(
            actor=actor.name,
            address=actor.address,
            action=action,
            target=target,
            details=json.dumps(dict(details or {}), ensure_ascii=False, default=str),
        )
    )


class AuditStore:
    """record (its own transaction), recent (filtered by target or action)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        actor: Actor,
        action: str,
        target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        async with self._db.tx(write=True) as conn:
            await write_audit(conn, actor, action, target, details)

    async def recent(
        self,
        *,
        limit: int = 200,
        before_id: int | None = None,
        target: str | None = None,
        action: str | None = None,
        text: str = "",
    ) -> list[AuditRow]:
        """The latest rows, newest first; `before_id` pages back (keyset, by id).
        `target`: only the rows about it (a person's uid); `action`: only that action,
        or a family of them with a trailing dot ('person.'); `text`: every word in the
        actor, the action or the target, case and accents ignored."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(max(0, limit))
        for word in search_words(text):
            pattern = like_pattern(fold(word))
            query = query.where(
                or_(
                    *(
                        fold_sql(column, self._db.dialect).like(pattern, escape="\\")
                        for column in (audit_log.c.actor, audit_log.c.action, audit_log.c.target)
                    )
                )
            )
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        if target is not None:
            query = query.where(audit_log.c.target == target)
        if action:
            if action.endswith("."):
                query = query.where(audit_log.c.action.startswith(action, autoescape=True))
            else:
                query = query.where(audit_log.c.action == action)
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditRow(
                id=r.id,
                at=r.at,
                actor=r.actor,
                address=r.address,
                action=r.action,
                target=r.target,
                details=_details(r.details),
            )
            for r in rows
        ]


def _details(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}
