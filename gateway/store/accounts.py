"""The web pages' accounts: a username, an argon2 hash, a role and an optional expiry.

A worker's account (role 'worker', schema v5) is linked to one person and made by hr
with a one-time code (`add_worker`): the code is stored hashed like any password, and
`must_change_password` makes the first sign-in set a password of the worker's own.

Hashing happens in gateway.web.security; this store never sees a password. What a role
may do is gateway/web/roles.py's table; here only which roles exist and the rule that an
inspector's account always ends (the Labour Inspection's access is for a visit or a
case, not for ever). A change to a password or a role, and a removal, end the account's
open sessions in the same transaction, and write the audit row there too.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store import validate
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.sessions import end_sessions_of
from gateway.store.tables import ACCOUNT_ROLES, accounts, people

WORKER = "worker"
# One-time codes: no 0/O, 1/I/L to misread from a slip of paper; 12 of 31 symbols
# (about 59 bits) against a login throttle that doubles each wait.
_CODE_SYMBOLS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def one_time_code() -> str:
    """A new one-time code, XXXX-XXXX-XXXX: shown once, stored only hashed."""
    raw = "".join(secrets.choice(_CODE_SYMBOLS) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


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
    if role == WORKER:
        raise InvalidInputError(
            "a worker's account is linked to a person: make it with "
            "'clock-gateway accounts add-worker PERSON' (or the people page)"
        )
    return role


@dataclass(frozen=True)
class AccountRow:
    username: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    person_uid: str | None = None
    must_change_password: bool = False


@dataclass(frozen=True)
class Credentials:
    """What signing in needs to know about an account."""

    username: str
    password_hash: str
    role: str
    expires_at: datetime | None
    person_uid: str | None = None
    must_change_password: bool = False

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

    async def add_worker(self, name: str, person_uid: str, code_hash: str, actor: Actor) -> None:
        """A worker's account for one person, signed in first with a one-time code
        (`code_hash`, hashed like a password) that must then be replaced."""
        name = username(name)
        uid = validate.uid(person_uid)
        try:
            async with self._db.tx(write=True) as conn:
                person = (
                    await conn.execute(
                        select(people.c.erased_at, people.c.active).where(people.c.uid == uid)
                    )
                ).first()
                if person is None:
                    raise NotFoundError(f"no person with uid {uid!r}")
                if person.erased_at is not None:
                    raise ConflictError(f"person {uid!r} was erased")
                taken = await conn.scalar(
                    select(accounts.c.username).where(accounts.c.username == name)
                )
                if taken is not None:
                    raise ConflictError(f"an account named {name!r} already exists")
                linked = await conn.scalar(
                    select(accounts.c.username).where(accounts.c.person_uid == uid)
                )
                if linked is not None:
                    raise ConflictError(
                        f"{uid!r} already has an account ({linked!r}): give it a new code "
                        "with 'clock-gateway accounts new-code'"
                    )
                await conn.execute(
                    insert(accounts).values(
                        username=name,
                        password_hash=code_hash,
                        role=WORKER,
                        person_uid=uid,
                        must_change_password=True,
                    )
                )
                await write_audit(
                    conn, actor, "account.add", name, {"role": WORKER, "person_uid": uid}
                )
        except IntegrityError:
            raise ConflictError(f"an account named {name!r} already exists") from None

    async def new_code(self, name: str, code_hash: str, actor: Actor) -> int:
        """A fresh one-time code for a worker's account (a forgotten password): its
        sessions end and the next sign-in must set a new password."""
        return await self.set_password(name, code_hash, actor, must_change=True, code=True)

    async def set_password(
        self,
        name: str,
        password_hash: str,
        actor: Actor,
        *,
        must_change: bool = False,
        code: bool = False,
    ) -> int:
        """Change the password; the number of sessions this ended."""
        name = username(name)
        async with self._db.tx(write=True) as conn:
            where = accounts.c.username == name
            if code:
                where = where & (accounts.c.role == WORKER)
            done = await conn.execute(
                update(accounts)
                .where(where)
                .values(password_hash=password_hash, must_change_password=must_change)
            )
            if done.rowcount == 0:
                raise NotFoundError(f"no {'worker ' if code else ''}account named {name!r}")
            ended = await end_sessions_of(conn, name)
            await write_audit(
                conn,
                actor,
                "account.code" if code else "account.passwd",
                name,
                {"sessions_ended": ended},
            )
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
            if before.role == WORKER:
                # A worker's account reaches one person's record; another role would
                # reach everyone's with a password hr handed out.
                raise ConflictError(
                    f"{name!r} is a worker's account: remove it and add another instead"
                )
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
                        accounts.c.person_uid,
                        accounts.c.must_change_password,
                    ).where(accounts.c.username == name)
                )
            ).first()
        if row is None:
            return None
        return Credentials(
            row.username,
            str(row.password_hash),
            row.role,
            row.expires_at,
            row.person_uid,
            bool(row.must_change_password),
        )

    async def accounts(self) -> list[AccountRow]:
        async with self._db.tx() as conn:
            rows = (await conn.execute(select(accounts).order_by(accounts.c.username))).all()
        return [_account_row(r) for r in rows]

    async def of_person(self, uid: str) -> AccountRow | None:
        """The worker's account linked to this person, if any."""
        async with self._db.tx() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.person_uid == uid))).first()
        return None if row is None else _account_row(row)

    async def workers(self) -> dict[str, str]:
        """person uid -> the username of their worker's account."""
        async with self._db.tx() as conn:
            rows = (
                await conn.execute(
                    select(accounts.c.person_uid, accounts.c.username).where(
                        accounts.c.person_uid.is_not(None)
                    )
                )
            ).all()
        return {r.person_uid: r.username for r in rows}

    async def count(self) -> int:
        async with self._db.tx() as conn:
            return int(await conn.scalar(select(func.count()).select_from(accounts)) or 0)


def _account_row(r: object) -> AccountRow:
    m = r._mapping  # type: ignore[attr-defined]
    return AccountRow(
        m["username"],
        m["role"],
        m["created_at"],
        m["expires_at"],
        m["person_uid"],
        bool(m["must_change_password"]),
    )
