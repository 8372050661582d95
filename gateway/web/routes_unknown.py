"""The unknown cards (tapped, held by nobody: the enrolment list): found by key or by
the reader that saw them, paged on the server by keyset (last seen, key; see
web/paging.py), and kept live.

Two places show the list: its own page, /cards/unknown (the search box, the pager),
and the people page's section, which is the first page (people.html; its fragment is
/people?partial=unknown). Live: the "unknown" topic sends a fingerprint of the whole
list (PeopleStore.unknown_state), and each open page whose copy differs fetches its
own fragment again (admin.js), so a search or a later page stays live too, and the
rows are rendered by one template (unknown_rows.html), never again in script.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.errors import InvalidInputError
from gateway.store.models import UnknownSwipeRow
from gateway.web import paging
from gateway.web.context import admin, ctx_of

PAGE_SIZE = 25  # cards per page, each row with its assign form
PAGE = "/cards/unknown"
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _cursor(seen: datetime, key: str) -> str:
    return paging.encode_cursor([(seen - _EPOCH) // _MICROSECOND, key])


def _after(request: Request) -> tuple[datetime, str] | None:
    """The page's cursor: (microseconds since 1970 of the last row's last sighting, its
    key); BadCursor for anything else, a date past the calendar's end included."""
    values = paging.decode_cursor(request.query_params.get("after"), (int, str))
    if values is None:
        return None
    try:
        return _EPOCH + values[0] * _MICROSECOND, values[1]
    except OverflowError:
        raise paging.BadCursor from None


def _row(r: UnknownSwipeRow, zone: tzinfo, today: Any) -> dict[str, Any]:
    local = r.last_seen.astimezone(zone)
    seen = local.strftime("%H:%M:%S" if local.date() == today else "%d/%m/%Y %H:%M")
    return {"card": r.card_key, "reader": r.last_reader, "last_seen": seen, "count": r.count}


async def unknown_values(request: Request, *, searched: bool) -> dict[str, Any]:
    """What unknown_rows.html needs: the page this request asks for (`searched`: its
    ?q= and ?after= are the list's, on its own page), else the first page."""
    ctx = ctx_of(request)
    text = paging.search_text(request) if searched else ""
    after = _after(request) if searched else None
    found = await ctx.stores.people.unknown_page(text, after=after, limit=PAGE_SIZE)
    today = datetime.now(ctx.zone).date()
    if found.after is None:
        next_url = None
    elif searched:
        next_url = paging.url_with(request, after=_cursor(*found.after))
    else:
        next_url = f"{PAGE}?after={_cursor(*found.after)}"
    return {
        "unknown": found,
        "unknown_rows": [_row(r, ctx.zone, today) for r in found.rows],
        "unknown_state": await ctx.stores.people.unknown_state(),
        "unknown_q": text,
        "unknown_next": next_url,
        "unknown_first": paging.url_with(request) if searched and after else None,
        # Where an assignment comes back to: this page as shown (its search, its page).
        "unknown_back": paging.url_with(request, after=request.query_params.get("after")),
    }


@admin
async def unknown_page(request: Request) -> Response:
    try:
        values = await unknown_values(request, searched=True)
    except InvalidInputError as exc:
        return paging.bad_request(request, exc)
    return paging.list_page(request, "unknown.html", "unknown_rows.html", **values)


@admin
async def unknown_events(request: Request) -> Response:
    """The "unknown" topic's stream (the list's fingerprint), at a path no uid can take:
    under /people/ it shadowed the page of a person whose uid is "live"."""
    return StreamingResponse(
        ctx_of(request).hub.stream("unknown"), media_type="text/event-stream", headers=_SSE_HEADERS
    )
