"""The accounts page (admin only, roles.py): who may sign in, with which role and until
when; add, change a role, remove. A new role or a removal ends the account's sessions
(gateway.store.accounts), so it takes effect at once, not at the next sign-in."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInputError
from gateway.store.tables import ACCOUNT_ROLES
from gateway.web import auth, security
from gateway.web.context import actor, admin, ctx_of, form_action, render


def _expiry(text: str, request: Request) -> datetime | None:
    """The end of the given local day, or None for an empty field."""
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ctx_of(request).zone)
    except (ValueError, OverflowError):
        raise InvalidInputError(f"bad date {text!r}: use YYYY-MM-DD") from None


@admin
async def accounts_page(request: Request) -> Response:
    ctx = ctx_of(request)
    rows = await ctx.stores.accounts.accounts()
    listed = [
        {
            "username": r.username,
            "role": r.role,
            "created": ctx.local(r.created_at, "%Y-%m-%d"),
            # The last day it may sign in: the stored instant is the next midnight.
            "until": ""
            if r.expires_at is None
            else (r.expires_at.astimezone(ctx.zone).date() - timedelta(days=1)).isoformat(),
        }
        for r in rows
    ]
    me = auth.of(request)
    return render(
        request,
        "accounts.html",
        accounts=listed,
        roles=ACCOUNT_ROLES,
        me=me.username if me else "",
    )


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


@admin
async def add_account(request: Request) -> Response:
    form = await _form(request)

    async def act() -> str:
        if form.get("password", "") != form.get("again", ""):
            raise InvalidInputError("the passwords differ; nothing was changed")
        until = _expiry(form.get("expires", ""), request)
        hashed = await asyncio.to_thread(security.hash_password, form.get("password", ""))
        name = form.get("username", "")
        role = form.get("role", "")
        await ctx_of(request).stores.accounts.add(
            name, hashed, actor(request), role=role, expires_at=until
        )
        return f"+ {name.strip()} ({role})"

    return await form_action(request, "/accounts", act)


@admin
async def change_role(request: Request) -> Response:
    form = await _form(request)

    async def act() -> str:
        name, role = form.get("username", ""), form.get("role", "")
        until = _expiry(form.get("expires", ""), request)
        ended = await ctx_of(request).stores.accounts.set_role(name, role, until, actor(request))
        return f"{name} → {role} ({ended} ✕)"

    return await form_action(request, "/accounts", act)


@admin
async def remove_account(request: Request) -> Response:
    form = await _form(request)

    async def act() -> str:
        name = form.get("username", "")
        me = auth.of(request)
        if me is not None and name == me.username:
            raise InvalidInputError("you cannot remove your own account while signed in")
        await ctx_of(request).stores.accounts.remove(name, actor(request))
        return f"{name} ✕"

    return await form_action(request, "/accounts", act)
