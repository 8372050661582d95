"""People and cards: enrolment by tap, add/rename/deactivate/erase, revoke."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.store.lifecycle import is_erased
from gateway.web.board import unknown_cards
from gateway.web.context import actor, admin, ctx_of, form_action, render

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@admin
async def people_page(request: Request) -> Response:
    ctx = ctx_of(request)
    # Erased people stay as pseudonyms for their events; nothing to manage about them.
    everyone = [p for p in await ctx.stores.people.people() if not is_erased(p)]
    # Read now, not the live topic's last copy: right after an assignment that copy
    # may still list the card just assigned.
    unknown = await unknown_cards(ctx.stores, ctx.zone)
    return render(
        request,
        "people.html",
        people=everyone,
        active=[p for p in everyone if p.active],
        without_card=[p for p in everyone if p.active and not p.cards],
        unknown=unknown["cards"],
    )


@admin
async def unknown_events(request: Request) -> Response:
    return StreamingResponse(
        ctx_of(request).hub.stream("unknown"), media_type="text/event-stream", headers=_SSE_HEADERS
    )


async def _field(request: Request, name: str) -> str:
    return str((await request.form()).get(name, ""))


@admin
async def add_person(request: Request) -> Response:
    uid, name = await _field(request, "uid"), await _field(request, "name")

    async def act() -> str:
        await ctx_of(request).stores.lifecycle.add_person(uid, name, actor(request))
        return f"+ {uid.strip()} ({' '.join(name.split())})"

    return await form_action(request, "/people", act)


@admin
async def assign_card(request: Request) -> Response:
    card, uid = await _field(request, "card"), await _field(request, "uid")

    async def act() -> str:
        await ctx_of(request).stores.lifecycle.assign_card(card, uid, actor(request))
        return f"{card} → {uid}"

    return await form_action(request, "/people", act)


@admin
async def revoke_card(request: Request) -> Response:
    card = await _field(request, "card")

    async def act() -> str:
        former = await ctx_of(request).stores.lifecycle.revoke_card(card, actor(request))
        return f"{card} ✕ {former}"

    return await form_action(request, "/people", act)


@admin
async def rename_person(request: Request) -> Response:
    uid, name = await _field(request, "uid"), await _field(request, "name")

    async def act() -> str:
        old = await ctx_of(request).stores.lifecycle.rename(uid, name, actor(request))
        return f"{old} → {' '.join(name.split())}"

    return await form_action(request, "/people", act)


@admin
async def set_active(request: Request) -> Response:
    uid, active = await _field(request, "uid"), await _field(request, "active") == "1"

    async def act() -> str:
        await ctx_of(request).stores.lifecycle.set_active(uid, active, actor(request))
        return f"{uid}: {'active' if active else 'inactive'}"

    return await form_action(request, "/people", act)


@admin
async def erase_person(request: Request) -> Response:
    uid = await _field(request, "uid")

    async def act() -> str:
        pseudonym = await ctx_of(request).stores.lifecycle.erase(uid, actor(request))
        return f"{uid} → {pseudonym}"

    return await form_action(request, "/people", act)
