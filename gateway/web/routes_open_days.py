"""Open days (issue 22 item 4): the forgotten clock-outs `register open-days` flagged,
whether the worker was mailed, and where their proposed close stands."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from gateway.web.context import admin, ctx_of, render

SHOWN_DAYS = 62


@admin
async def open_days_page(request: Request) -> Response:
    ctx = ctx_of(request)
    since = datetime.now(ctx.zone).date() - timedelta(days=SHOWN_DAYS)
    notices = await ctx.stores.open_days.notices(since=since)
    return render(request, "open_days.html", notices=notices, days=SHOWN_DAYS)
