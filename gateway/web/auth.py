"""Signing in and out, and who the account of a request is.

The cookie (signed, see security.py) carries the session id; the session itself is a
row in the database (gateway.store.sessions), so logging out, a new password, a new
role or a removed account ends it for good, even for a copy of the cookie taken before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from gateway.store.accounts import Credentials
from gateway.web import security


@dataclass(frozen=True)
class Account:
    """The signed-in account of a request."""

    username: str
    role: str
    session: str  # the session id's hash: the row to end at logout
    person_uid: str | None = None  # a worker's own person: all /me shows
    must_change_password: bool = False  # signed in with a one-time code: /me/password first


def _now() -> datetime:
    return datetime.now(UTC)


async def current(request: Request) -> Account | None:
    """The account of this request's session, or None; cached on the request."""
    if hasattr(request.state, "account"):
        cached: Account | None = request.state.account
        return cached
    account = None
    session_id = request.session.get("sid")
    if isinstance(session_id, str) and session_id:
        ctx = request.app.state.ctx
        found = await ctx.stores.sessions.account(
            security.session_id_hash(session_id),
            now=_now(),
            idle=timedelta(minutes=ctx.config.web.session_idle_minutes),
        )
        if found is None:
            request.session.pop("sid", None)  # ended: the cookie forgets it too
        else:
            account = Account(
                found.username,
                found.role,
                found.id_hash,
                found.person_uid,
                found.must_change_password,
            )
    request.state.account = account
    return account


def of(request: Request) -> Account | None:
    """The account `current` found (None before it ran, or when signed out)."""
    account: Account | None = getattr(request.state, "account", None)
    return account


async def sign_in(request: Request, credentials: Credentials, address: str) -> Account:
    """A fresh session: nothing of the cookie from before the login survives."""
    ctx = request.app.state.ctx
    session_id = security.new_session_id()
    id_hash = security.session_id_hash(session_id)
    await ctx.stores.sessions.create(
        credentials.username,
        id_hash,
        now=_now(),
        lifetime=timedelta(hours=ctx.config.web.session_hours),
        address=address,
    )
    request.session.clear()
    request.session.update(sid=session_id, csrf=security.new_csrf_token())
    account = Account(
        credentials.username,
        credentials.role,
        id_hash,
        credentials.person_uid,
        credentials.must_change_password,
    )
    request.state.account = account
    return account


async def sign_out(request: Request) -> None:
    account = of(request)
    if account is not None:
        await request.app.state.ctx.stores.sessions.end(account.session)
    request.session.clear()
    request.state.account = None
