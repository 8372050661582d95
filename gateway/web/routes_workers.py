"""Worker accounts (issue 22 item 6): hr makes a person's account with a one-time
code, or gives it a new code. The code is shown on the answer page once and stored
only hashed (gateway.store.accounts); it never goes into a cookie or a log."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import DatabaseUnavailableError, GatewayError
from gateway.store.accounts import one_time_code
from gateway.web import security
from gateway.web.context import actor, admin, ctx_of, flash, redirect, render


@admin
async def workers_page(request: Request) -> Response:
    ctx = ctx_of(request)
    people = [p for p in await ctx.stores.people.people() if p.active]
    linked = await ctx.stores.accounts.workers()
    return render(request, "workers.html", people=people, linked=linked, code=None)


async def _with_code(request: Request, make: str) -> Response:
    ctx = ctx_of(request)
    form = await request.form()
    uid = str(form.get("uid", "")).strip()
    code = one_time_code()
    try:
        hashed = await asyncio.to_thread(security.hash_password, code)
        if make == "add":
            name = str(form.get("username", "")).strip() or uid
            await ctx.stores.accounts.add_worker(name, uid, hashed, actor(request))
        else:
            name = str(form.get("username", "")).strip()
            await ctx.stores.accounts.new_code(name, hashed, actor(request))
    except DatabaseUnavailableError:
        raise
    except GatewayError as exc:
        flash(request, str(exc), error=True)
        return redirect("/workers")
    people = [p for p in await ctx.stores.people.people() if p.active]
    linked = await ctx.stores.accounts.workers()
    page = render(
        request, "workers.html", people=people, linked=linked, code={"username": name, "code": code}
    )
    page.headers["Cache-Control"] = "no-store"  # the code must not stay in a cache
    return page


@admin
async def add_worker(request: Request) -> Response:
    return await _with_code(request, "add")


@admin
async def new_code(request: Request) -> Response:
    return await _with_code(request, "code")
