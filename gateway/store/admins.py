"""Admin accounts for the web pages: a username and an argon2 hash, nothing else.

Hashing happens in gateway.web.security; this store never sees a password.
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
from gateway.store.tables import admins

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def username(value: str) -> str:
    text = value.strip()
    if not _USERNAME.match(text):
        raise InvalidInputError(
            f"invalid username {value!r}: 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    return text


@dataclass(frozen=True)
class AdminRow:
    username: str
    created_at: datetime


class AdminStore:
    """add, set_password, remove, password_hash, admins."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, name: str, password_hash: str, actor: Actor) -> None:
        name = username(name)
        try:
            async with self._db.tx(write=True) as conn:
                exists = await conn.scalar(
                    select(admins.c.username).where(admins.c.username == name)
                )
                if exists is not None:
                    raise ConflictError(f"an admin named {name!r} already exists")
                await conn.execute(
                    insert(admins).values(username=name, password_hash=password_hash)
                )
                await write_audit(conn, actor, "admin.add", name)
        except IntegrityError:
            raise ConflictError(f"an admin named {name!r} already exists") from None

    async def set_password(self, name: str, password_hash: str, actor: Actor) -> None:
        name = username(name)
        async with self._db.tx(write=True) as conn:
            done = await conn.execute(
                update(admins).where(admins.c.username == name).values(password_hash=password_hash)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no admin named {name!r}")
            await write_audit(conn, actor, "admin.passwd", name)

    async def remove(self, name: str, actor: Actor) -> None:
        name = username(name)
        async with self._db.tx(write=True) as conn:
            done = await conn.execute(delete(admins).where(admins.c.username == name))
            if done.rowcount == 0:
                raise NotFoundError(f"no admin named {name!r}")
            await write_audit(conn, actor, "admin.remove", name)

    async def password_hash(self, name: str) -> str | None:
        """The stored hash, or None for no such admin (or a malformed name)."""
        if not _USERNAME.match(name):
            return None
        async with self._db.tx() as conn:
            value = await conn.scalar(
                select(admins.c.password_hash).where(admins.c.username == name)
            )
        return None if value is None else str(value)

    async def admins(self) -> list[AdminRow]:
        async with self._db.tx() as conn:
            rows = (await conn.execute(select(admins).order_by(admins.c.username))).all()
        return [AdminRow(r.username, r.created_at) for r in rows]

    async def count(self) -> int:
        async with self._db.tx() as conn:
            return int(await conn.scalar(select(func.count()).select_from(admins)) or 0)
