"""The company's side of a correction's agreement (issue 22 item 5): hr or an admin
accepts or rejects what a worker requested, or withdraws what the company proposed
(gateway/store/correction_steps.py holds who may take which step)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInputError
from gateway.store.correction_steps import Decision
from gateway.web.context import actor, admin, ctx_of, form_action
from gateway.web.routes_admin import row_id

_DONE = {"accepted": "accepted_msg", "rejected": "rejected_msg", "withdrawn": "withdrawn_msg"}


async def _decide(request: Request, decision: Decision) -> Response:
    form = await request.form()
    uid = str(form.get("uid", ""))

    async def act() -> str:
        correction_id = row_id(str(form.get("id", "")))
        if correction_id is None:
            raise InvalidInputError("bad correction id")
        await ctx_of(request).stores.corrections.decide(
            correction_id, decision, actor(request), side="company", note=str(form.get("note", ""))
        )
        return _DONE[decision]

    back = f"/corrections?uid={uid}" if uid else "/corrections"
    return await form_action(request, back, act)


@admin
async def accept(request: Request) -> Response:
    return await _decide(request, "accepted")


@admin
async def reject(request: Request) -> Response:
    return await _decide(request, "rejected")


@admin
async def withdraw(request: Request) -> Response:
    return await _decide(request, "withdrawn")
