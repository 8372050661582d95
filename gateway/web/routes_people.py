"""People and cards: the list (find, filter, page), enrolment by tap, and the
actions (add, rename, deactivate, erase, assign, revoke), which a person's page
(routes_person.py) posts and which return to the page named by the form's `next`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import DatabaseUnavailableError, GatewayError, InvalidInputError
from gateway.store.people import STATES
from gateway.web import paging
from gateway.web.context import (
    actor,
    admin,
    ctx_of,
    flash,
    form_action,
    redirect,
    render,
    safe_next,
)
from gateway.web.routes_person import person_url
from gateway.web.routes_unknown import unknown_values

PAGE_SIZE = 50  # people per page: 2,000 people were one 3.16 MB page


@admin
async def people_page(request: Request) -> Response:
    ctx = ctx_of(request)
    if request.query_params.get("partial") == "unknown":  # the live section's own refresh
        return render(request, "unknown_rows.html", **await unknown_values(request, searched=False))
    rooms = await ctx.stores.people.rooms()
    try:
        text = paging.search_text(request)
        state = paging.choice(request, "state", STATES)
        room = paging.choice(request, "room", rooms)
        after = paging.decode_cursor(request.query_params.get("after"), (str, str))
    except InvalidInputError as exc:
        return paging.bad_request(request, exc)
    found = await ctx.stores.people.search(
        text, state=state, room=room, after=after, limit=PAGE_SIZE
    )
    values: dict[str, Any] = {
        "person_url": person_url,
        "found": found,
        "q": text,
        "state": state or "",
        "room": room or "",
        "states": STATES,
        "rooms": rooms,
        "next_url": paging.url_with(request, after=paging.encode_cursor(found.after))
        if found.after
        else None,
        "first_url": paging.url_with(request) if after else None,
    }
    if paging.wants_partial(request):
        return render(request, "people_rows.html", **values)
    # The unknown cards' first page, read now (right after an assignment the live
    # topic may not have moved yet).
    unknown = await unknown_values(request, searched=False)
    return render(request, "people.html", **unknown, **values)


async def _field(request: Request, name: str) -> str:
    return str((await request.form()).get(name, ""))


async def _back(request: Request) -> str:
    """Where the form came from (a person's page or the list): a local path only."""
    return safe_next((await request.form()).get("next"))


@admin
async def add_person(request: Request) -> Response:
    """Add a person, then their page (to give them a card); refused: back, with why."""
    ctx = ctx_of(request)
    uid, name = await _field(request, "uid"), await _field(request, "name")
    try:
        person = await ctx.stores.lifecycle.add_person(uid, name, actor(request))
    except DatabaseUnavailableError:
        raise
    except GatewayError as exc:
        flash(request, str(exc), error=True)
        return redirect(await _back(request))
    flash(request, f"+ {person.uid} ({person.name})")
    ctx.hub.poke()
    return redirect(person_url(person.uid))


@admin
async def assign_card(request: Request) -> Response:
    card, uid = await _field(request, "card"), await _field(request, "uid")

    async def act() -> str:
        await ctx_of(request).stores.lifecycle.assign_card(card, uid, actor(request))
        return f"{card} → {uid}"

    return await form_action(request, await _back(request), act)


@admin
async def revoke_card(request: Request) -> Response:
    card = await _field(request, "card")

    async def act() -> str:
        former = await ctx_of(request).stores.lifecycle.revoke_card(card, actor(request))
        return f"{card} ✕ {former}"

    return await form_action(request, await _back(request), act)


@admin
async def rename_person(request: Request) -> Response:
    uid, name = await _field(request, "uid"), await _field(request, "name")

    async def act() -> str:
        old = await ctx_of(request).stores.lifecycle.rename(uid, name, actor(request))
        return f"{old} → {' '.join(name.split())}"

    return await form_action(request, await _back(request), act)


@admin
async def set_active(request: Request) -> Response:
    uid, active = await _field(request, "uid"), await _field(request, "active") == "1"

    async def act() -> str:
        await ctx_of(request).stores.lifecycle.set_active(uid, active, actor(request))
        return f"{uid}: {'active' if active else 'inactive'}"

    return await form_action(request, await _back(request), act)


@admin
async def erase_person(request: Request) -> Response:
    uid = await _field(request, "uid")

    async def act() -> str:
        pseudonym = await ctx_of(request).stores.lifecycle.erase(uid, actor(request))
        return f"{uid} → {pseudonym}"

    return await form_action(request, await _back(request), act)
