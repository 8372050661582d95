"""The web pages' accounts: a username, an argon2 hash, a role and an optional expiry.

Hashing happens in gateway.web.security; this store never sees a password. What a role
may do is gateway/web/roles.py's table; here only which roles exist and the rule that an
inspector's account always ends (the Labour Inspection's access is for a visit or a
case, not for ever). A change to a password or a role, and a removal, end the account's
open sessions in the same transaction, and write the audit row there too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.sessions import end_sessions_of
from gateway.store.tables import ACCOUNT_ROLES, accounts

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def username(value: str) -> str:
    text = value.strip()
    if not _USERNAME.match(text):
        raise InvalidInputError(
            f"invalid username {value!r}: 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    return text


def checked_role(role: str, expires_at: datetime | None) -> str:
    """The role if it exists and its expiry rule holds; else a one-line refusal."""
    if role not in ACCOUNT_ROLES:
        raise InvalidInputError(f"unknown role {role!r}: one of {', '.join(ACCOUNT_ROLES)}")
    if role == "inspector" and expires_at is None:
        raise InvalidInputError("an inspector's account needs an expiry date (--expires)")
    return role


@dataclass(frozen=True)
class AccountRow:
    username: str
    role: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Credentials:
    """What signing in needs to know about an account."""

    username: str
    password_hash: str
    role: str
    expires_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class AccountStore:
    """add, set_password, set_role, remove, credentials, accounts, count."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        name: str,
        password_hash: str,
        actor: Actor,
        *,
        role: str,
        expires_at: datetime | None = None,
    ) -> None:
        name = username(name)
        role = checked_role(role, expires_at)
        try:
            async with self._db.tx(write=True) as conn:
                exists = await conn.scalar(
                    select(accounts.c.username).where(accounts.c.username == name)
                )
                if exists is not None:
                    raise ConflictError(f"an account named {name!r} already exists")
                await conn.execute(
                    insert(accounts).values(
                        username=name,
                        password_hash=password_hash,
                        role=role,
                        expires_at=expires_at,
                    )
                )
                details = {"role": role, "expires_at": expires_at}
                await write_audit(conn, actor, "account.add", name, details)
        except IntegrityError:
            raise ConflictError(f"an account named {name!r} already exists") from None

    async def set_password(self, name: str, password_hash: str, actor: Actor) -> int:
        """Change the password; the number of sessions this ended."""
        name = username(name)
        async with self._db.tx(write=True) as conn:
            done = await conn.execute(
                update(accounts)
                .where(accounts.c.username == name)
                .values(password_hash=password_hash)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no account named {name!r}")
            ended = await end_sessions_of(conn, name)
            await write_audit(conn, actor, "account.passwd", name, {"sessions_ended": ended})
        return ended

    async def set_role(
        self, name: str, role: str, expires_at: datetime | None, actor: Actor
    ) -> int:
        """Give the account this role and expiry (None: none); the sessions it ended."""
        name = username(name)
        role = checked_role(role, expires_at)
        async with self._db.tx(write=True) as conn:
            before = (
                await conn.execute(
                    select(accounts.c.role, accounts.c.expires_at).where(
                        accounts.c.username == name
                    )
                )
            ).first()
            if before is None:
                raise NotFoundError(f"no account named {name!r}")
            await conn.execute(
                update(accounts)
                .where(accounts.c.username == name)
                .values(role=role, expires_at=expires_at)
            )
            ended = await end_sessions_of(conn, name)
            details = {
                "from": before.role,
                "role": role,
                "expires_at": expires_at,
                "sessions_ended": ended,
            }
            await write_audit(conn, actor, "account.role", name, details)
        return ended

    async def remove(self, name: str, actor: Actor) -> None:
        name = username(name)
        async with self._db.tx(write=True) as conn:
            ended = await end_sessions_of(conn, name)
            done = await conn.execute(delete(accounts).where(accounts.c.username == name))
            if done.rowcount == 0:
                raise NotFoundError(f"no account named {name!r}")
            await write_audit(conn, actor, "account.remove", name, {"sessions_ended": ended})

    async def credentials(self, name: str) -> Credentials | None:
        """The stored hash, role and expiry, or None for no such account (or a
        malformed name)."""
        if not _USERNAME.match(name):
            return None
        async with self._db.tx() as conn:
            row = (
                await conn.execute(
                    select(
                        accounts.c.username,
                        accounts.c.password_hash,
                        accounts.c.role,
                        accounts.c.expires_at,
                    ).where(accounts.c.username == name)
                )
            ).first()
        if row is None:
            return None
        return Credentials(row.username, str(row.password_hash), row.role, row.expires_at)

    async def accounts(self) -> list[AccountRow]:
        async with self._db.tx() as conn:
            rows = (await conn.execute(select(accounts).order_by(accounts.c.username))).all()
        return [AccountRow(r.username, r.role, r.created_at, r.expires_at) for r in rows]

    async def count(self) -> int:
        async with self._db.tx() as conn:
            return int(await conn.scalar(select(func.count()).select_from(accounts)) or 0)
