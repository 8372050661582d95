"""Find, filter, page: what every list page shares.

- A cursor is the last row's sort key, opaque to people: JSON in URL-safe base64. The
  list asks its store for the rows after it (keyset paging: never an OFFSET over a
  growing table, so a row added meanwhile neither shifts a page nor repeats one). A
  cursor that does not decode to the list's shape is a 400 page, never a traceback.
- `?partial=1` asks for the list's fragment alone: admin.js fetches it as someone types
  in the search box and puts it in place, without a reload; without JavaScript the
  same search box is a plain GET form.
- The pager's link keeps the search and the filters (`url_with`).

The templates: _search.html (the box and its filters) and _pager.html.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInputError
from gateway.web.context import render

MAX_CURSOR = 1024  # characters: a sort key of a name and a uid fits many times over
MAX_QUERY = 200  # characters of a search


class BadCursor(InvalidInputError):
    def __init__(self) -> None:
        super().__init__("bad page cursor: start again from the first page")


def encode_cursor(values: Sequence[str | int]) -> str:
    raw = json.dumps(list(values), ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, kinds: Sequence[type]) -> tuple[Any, ...] | None:
    """The cursor's values, each of its kind (str or int), or None when there is no
    cursor; BadCursor for anything else."""
    if not text:
        return None
    if len(text) > MAX_CURSOR or not text.isascii():
        raise BadCursor
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSON errors are ValueErrors
        raise BadCursor from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise BadCursor
    for value, kind in zip(values, kinds, strict=True):
        # type(), not isinstance: a bool is an int to isinstance, and no row id.
        if type(value) is not kind:
            raise BadCursor
        if isinstance(value, str) and any(unicodedata.category(ch)[0] == "C" for ch in value):
            raise BadCursor  # a NUL is an error to PostgreSQL: no row's key has one
        if isinstance(value, int) and not 0 < value < 2**63:  # what a bigint holds
            raise BadCursor
    return tuple(values)


def search_text(request: Request) -> str:
    """The search box's text, bounded (a longer one is cut, not refused)."""
    return " ".join(request.query_params.get("q", "").split())[:MAX_QUERY]


def choice(request: Request, name: str, allowed: Sequence[str]) -> str | None:
    """A filter's value: one of `allowed`, None when empty; else a 400."""
    value = request.query_params.get(name, "")
    if not value:
        return None
    if value not in allowed:
        raise InvalidInputError(f"unknown {name} {value!r}")
    return value


def url_with(request: Request, **changes: str | None) -> str:
    """This page's URL with some parameters changed (None or '' drops one), without
    `partial` and without the cursor unless given: a link to keep or share."""
    params = {k: v for k, v in request.query_params.items() if k not in ("partial", "after")}
    for key, value in changes.items():
        if value:
            params[key] = value
        else:
            params.pop(key, None)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def wants_partial(request: Request) -> bool:
    return request.query_params.get("partial") == "1"


def list_page(request: Request, template: str, fragment: str, **values: Any) -> Response:
    """The whole page, or (`?partial=1`) only its list fragment."""
    return render(request, fragment if wants_partial(request) else template, **values)


def bad_request(request: Request, exc: InvalidInputError) -> Response:
    return render(request, "message.html", 400, title="400", text=exc.message)
