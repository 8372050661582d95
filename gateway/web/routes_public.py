"""The board (open, behind its token, or for signed-in accounts: roles.board_open) and
signing in and out. roles.guard has checked access and CSRF before these run."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.store.audit import Actor
from gateway.web import auth, roles, security
from gateway.web.context import client_address, ctx_of, flash, redirect, render, safe_next
from gateway.web.i18n import LOCALES

_SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}
# A board asked for before the hub's first computation waits for it this long at
# most, rather than showing an empty page until its stream catches up.
FIRST_BOARD_WAIT_S = 5.0
MAX_PASSWORD = 1024  # longer is no password anyone types; argon2 need not hash it


async def board(request: Request) -> Response:
    ctx = ctx_of(request)
    lang = request.query_params.get("lang", ctx.locale)
    topic = ctx.hub.topics["board"]
    if topic.payload is None:  # just started: the first computation is under way
        await topic.wait(FIRST_BOARD_WAIT_S)
    return render(
        request,
        "board.html",
        locale=lang if lang in LOCALES else ctx.locale,
        initial=json.loads(topic.payload) if topic.payload else None,
        token=request.query_params.get("token", ""),
        timezone=ctx.config.timezone,
    )


async def board_events(request: Request) -> Response:
    return StreamingResponse(
        ctx_of(request).hub.stream("board"), media_type="text/event-stream", headers=_SSE_HEADERS
    )


def _next(value: object) -> str:
    """The page asked for (a path on this site), or "" when none was."""
    return safe_next(value) if value else ""


def _landing(next_url: str, role: str) -> str:
    """The page asked for if the role may open it, else the role's own first page."""
    if next_url and roles.allowed(role, next_url.split("?", 1)[0]):
        return next_url
    return roles.home(role)


async def login(request: Request) -> Response:
    ctx = ctx_of(request)
    next_url = _next(request.query_params.get("next"))
    if request.method == "GET":
        return render(request, "login.html", next=next_url, username="")
    form = await request.form()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    next_url = _next(form.get("next"))
    address = client_address(request)
    subjects = ctx.throttle.subjects(address, username)
    # Counted before the password is checked: guesses sent all at once are counted
    # one after the other, and only the first few are ever checked.
    wait = await ctx.throttle.reserve(*subjects)
    if wait > 0:
        page = render(
            request,
            "login.html",
            429,
            next=next_url,
            username=username,
            error="too_many",
            seconds=max(1, round(wait)),
        )
        page.headers["Retry-After"] = str(max(1, round(wait)))
        return page
    found = await ctx.stores.accounts.credentials(username)
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
    ok = await asyncio.to_thread(
        security.verify_password, found.password_hash if found else None, password
    )
    if not ok or found is None:
        # The name tried, only if it is an account's: a password typed into the
        # username field by mistake must not land in the audit log.
        await ctx.stores.audit.record(
            Actor("anonymous", address), "login.failed", username if found else None
        )
        return render(
            request, "login.html", 401, next=next_url, username=username, error="bad_login"
        )
    if found.expired(datetime.now(UTC)):
        await ctx.stores.audit.record(Actor("anonymous", address), "login.expired", found.username)
        return render(request, "login.html", 403, next=next_url, username=username, error="expired")
    await ctx.throttle.succeeded(*subjects)
    await auth.sign_in(request, found, address)
    await ctx.stores.audit.record(Actor(found.username, address), "login", found.username)
    return redirect(_landing(next_url, found.role))


async def logout(request: Request) -> Response:
    await auth.sign_out(request)
    flash(request, "logged_out")
    return redirect("/login")
