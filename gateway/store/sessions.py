"""Signed-in web sessions, kept in the database so that they can be ended.

The browser holds a random id (gateway.web.security makes it); this store sees only its
SHA-256 (`id_hash`), so reading the table opens no session. A session is valid while
its row exists, it has been used within the idle limit, its absolute expiry has not
passed, and its account exists and has not expired. Logout ends one session; a password
change, a role change or a removal ends all of an account's (`end_sessions_of`, in the
same transaction as the change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.database import Database
from gateway.store.tables import accounts, web_sessions

# last_seen_at is written at most this often per session: a write per page view would
# make every read a write (and on SQLite a wait for the one writer).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionAccount:
    """The account behind a valid session."""

    username: str
    role: str
    id_hash: str
    person_uid: str | None = None  # a worker's own person (schema v5)
    must_change_password: bool = False  # signed in with a one-time code


async def end_sessions_of(conn: AsyncConnection, name: str) -> int:
    """End every session of an account, in the caller's transaction; how many."""
    done = await conn.execute(delete(web_sessions).where(web_sessions.c.username == name))
    return int(done.rowcount or 0)


class SessionStore:
    """create, account, end, count_of."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, name: str, id_hash: str, *, now: datetime, lifetime: timedelta, address: str | None
    ) -> None:
        async with self._db.tx(write=True) as conn:
            # Sessions past their absolute end are of no use to anyone: drop them here,
            # at the rate of logins, so the table stays the size of the signed-in.
            await conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
            await conn.execute(
                insert(web_sessions).values(
                    id_hash=id_hash,
                    username=name,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + lifetime,
                    address=address,
                )
            )

    async def account(
        self, id_hash: str, *, now: datetime, idle: timedelta
    ) -> SessionAccount | None:
        """The account of a valid session (and note that it was used); None when the
        session does not exist or has ended, in which case its row is removed."""
        query = (
            select(
                web_sessions.c.username,
                web_sessions.c.last_seen_at,
                web_sessions.c.expires_at,
                accounts.c.role,
                accounts.c.expires_at.label("account_expires_at"),
                accounts.c.person_uid,
                accounts.c.must_change_password,
            )
            .join(accounts, accounts.c.username == web_sessions.c.username)
            .where(web_sessions.c.id_hash == id_hash)
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        ended = (
            now >= row.expires_at
            or now - row.last_seen_at > idle
            or (row.account_expires_at is not None and now >= row.account_expires_at)
        )
        if ended:
            await self.end(id_hash)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            async with self._db.tx(write=True) as conn:
                await conn.execute(
                    update(web_sessions)
                    .where(web_sessions.c.id_hash == id_hash)
                    .values(last_seen_at=now)
                )
        return SessionAccount(
            row.username, row.role, id_hash, row.person_uid, bool(row.must_change_password)
        )

    async def end(self, id_hash: str) -> bool:
        async with self._db.tx(write=True) as conn:
            done = await conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == id_hash))
        return bool(done.rowcount)

    async def count_of(self, name: str) -> int:
        async with self._db.tx() as conn:
            return int(
                await conn.scalar(
                    select(func.count())
                    .select_from(web_sessions)
                    .where(web_sessions.c.username == name)
                )
                or 0
            )
