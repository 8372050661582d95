"""The board (open, or behind its token) and logging in and out."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.store.audit import Actor
from gateway.web import security
from gateway.web.context import (
    client_address,
    ctx_of,
    flash,
    logged_in,
    redirect,
    render,
    safe_next,
)
from gateway.web.i18n import LOCALES

_SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}


async def _board_allowed(request: Request) -> bool:
    token = ctx_of(request).config.web.board_token
    if token is None:
        return True
    given = request.query_params.get("token", "")
    return security.csrf_ok(token, given) or await logged_in(request) is not None


async def board(request: Request) -> Response:
    ctx = ctx_of(request)
    if not await _board_allowed(request):
        return render(request, "message.html", 403, title="403", text="board_token")
    lang = request.query_params.get("lang", ctx.locale)
    topic = ctx.hub.topics["board"]
    return render(
        request,
        "board.html",
        locale=lang if lang in LOCALES else ctx.locale,
        initial=json.loads(topic.payload) if topic.payload else None,
        token=request.query_params.get("token", ""),
        timezone=ctx.config.timezone,
    )


async def board_events(request: Request) -> Response:
    if not await _board_allowed(request):
        return Response("forbidden\n", status_code=403, media_type="text/plain")
    return StreamingResponse(
        ctx_of(request).hub.stream("board"), media_type="text/event-stream", headers=_SSE_HEADERS
    )


async def login(request: Request) -> Response:
    ctx = ctx_of(request)
    next_url = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render(request, "login.html", next=next_url, username="")
    form = await request.form()
    if not security.csrf_ok(request.session.get("csrf"), form.get("csrf")):
        return render(request, "message.html", 403, title="403", text="csrf")
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))
    next_url = safe_next(form.get("next"))
    keys = (f"addr:{client_address(request)}", f"user:{username.lower()}")
    wait = ctx.throttle.wait_left(*keys)
    if wait > 0:
        return render(
            request,
            "login.html",
            429,
            next=next_url,
            username=username,
            error="too_many",
            seconds=max(1, round(wait)),
        )
    stored = await ctx.stores.admins.password_hash(username)
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
    ok = await asyncio.to_thread(security.verify_password, stored, password)
    if not ok:
        ctx.throttle.failed(*keys)
        # The name tried, only if it is an admin's: a password typed into the
        # username field by mistake must not land in the audit log.
        await ctx.stores.audit.record(
            Actor("anonymous", client_address(request)),
            "login.failed",
            username if stored is not None else None,
        )
        return render(
            request, "login.html", 401, next=next_url, username=username, error="bad_login"
        )
    assert stored is not None
    ctx.throttle.succeeded(*keys)
    request.session.clear()  # a fresh session: nothing from before the login survives
    request.session.update(
        user=username, fp=security.hash_fingerprint(stored), csrf=security.new_csrf_token()
    )
    await ctx.stores.audit.record(Actor(username, client_address(request)), "login", username)
    return redirect(next_url)


async def logout(request: Request) -> Response:
    form = await request.form()
    if security.csrf_ok(request.session.get("csrf"), form.get("csrf")):
        request.session.clear()
        flash(request, "logged_out")
    return redirect("/login")
