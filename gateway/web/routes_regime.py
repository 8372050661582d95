"""POST /people/regime: set a person's working regime from a date (issue 22 item 1).

The page that shows the form is the person page (another change); this is the action
behind it: roles admin and hr (roles.py), the session's CSRF token (the guard), the
values checked by gateway.store.regimes.terms, and the regime.set audit row written by
the store in the same transaction.
"""

from __future__ import annotations

import math
import re

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInputError
from gateway.reports.timeparse import parse_date
from gateway.store.regimes import terms
from gateway.web.context import actor, admin, ctx_of, form_action

# Where to go back to: the people page or a person's page under it, nothing else.
_BACK = re.compile(r"^/people(/[A-Za-z0-9._~%-]{1,200})?$")


def _number(text: str, what: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(f"{what} must be a number, got {text[:40]!r}") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a number, got {text[:40]!r}")
    return value


@admin
async def set_regime(request: Request) -> Response:
    form = await request.form()

    def field(name: str) -> str:
        return str(form.get(name, ""))

    back = field("back")
    back = back if _BACK.match(back) else "/people"
    ctx = ctx_of(request)

    async def act() -> str:
        uid = field("uid")
        valid_from = parse_date(field("valid_from"))
        kind = field("kind")
        if kind not in ("full_time", "part_time"):
            raise InvalidInputError("choose full time or part time")
        percent = _number(field("part_time_percent"), "the part-time percentage")
        if kind == "part_time" and percent is None:
            raise InvalidInputError("a part-time regime needs its percentage")
        if percent is not None and percent != int(percent):
            raise InvalidInputError("the part-time percentage is a whole number")
        chosen = terms(
            part_time_percent=None if kind == "full_time" else int(percent or 0),
            weekly_hours=_number(field("weekly_hours"), "the weekly hours"),
            place=field("place"),
            overtime=field("overtime") or "paid",
            full_week_minutes=ctx.config.register.worktime.full_week_minutes,
        )
        new = await ctx.stores.regimes.add(uid, valid_from, chosen, actor(request))
        if new is None:
            return f"{uid}: that regime is already set from {valid_from}"
        return f"{uid}: regime from {valid_from}"

    return await form_action(request, back, act)
