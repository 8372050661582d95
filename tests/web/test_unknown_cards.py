"""The unknown cards' list (issue 25 item 1) over HTTP, against `clock-gateway web` as a
subprocess: found by key (any case and separators) or by reader, keyset pages that
cover every card once (ties on the same instant broken by key) and their 400s, the
fragment the search box and the live refresh fetch, the people page's first page of
it, an assignment coming back to the page it was made on, and the live stream's
fingerprint matching the fragment's."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import quote_plus

import pytest

from gateway.domain import UnknownSwipe
from gateway.store.stores import Stores
from tests.store.support import sql
from tests.support.wait import wait_until
from tests.web.client import Client
from tests.web.stack import ADMIN, PASSWORD, Stack, start_stack

pytestmark = pytest.mark.e2e

CARDS = 60  # more than two pages of 25
_ROW = re.compile(r'<tr data-card="([0-9A-F]+)">')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
_STATE = re.compile(r'data-state="([^"]*)"')


def card(i: int) -> str:
    return f"0A{i:06X}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-unknown")
    url = f"sqlite:///{tmp / 'gateway.db'}"
    stack = start_stack(url, tmp, history_days=0, web_only=True)

    async def tapped() -> None:
        stores = Stores.open(url)
        try:
            base = datetime.now(UTC) - timedelta(hours=1)
            for i in range(CARDS):
                # Three cards a minute: keys break the ties of the same instant.
                at = base + timedelta(minutes=i // 3)
                reader = "exit" if i % 2 else "entrance"
                await stores.swipes.record_unknown(UnknownSwipe(card(i), reader, None, at))
        finally:
            await stores.close()

    asyncio.run(tapped())
    try:
        yield stack
    finally:
        stack.close()


def _client(stack: Stack) -> Client:
    client = Client(stack.web.url)
    assert client.login(ADMIN, PASSWORD, "/cards/unknown").status == 303
    return client


def _expected_order() -> list[str]:
    """Latest first; within one minute, by key."""
    return [
        card(i) for minute in reversed(range(CARDS // 3)) for i in range(minute * 3, minute * 3 + 3)
    ]


def _walk(client: Client, path: str | None) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    while path is not None:
        page = client.get(unescape(path))
        assert page.status == 200, path
        seen += _ROW.findall(page.body)
        found = _NEXT.search(page.body)
        path = found.group(1) if found else None
        pages += 1
        assert pages <= CARDS, "the pager does not end"
    return seen, pages


def test_pages_cover_every_card_once_latest_first(stack: Stack) -> None:
    seen, pages = _walk(_client(stack), "/cards/unknown")
    assert seen == _expected_order() and pages == 3  # 25 + 25 + 10


def test_search_by_key_and_by_reader(stack: Stack) -> None:
    client = _client(stack)
    for text in ("0A00002A", "0a00002a", "0a:00:00:2a", "00002A"):
        page = client.get(f"/cards/unknown?q={quote_plus(text)}")
        assert page.status == 200 and _ROW.findall(page.body) == ["0A00002A"], text
    exits = client.get("/cards/unknown?q=exit")
    assert 'data-total="30"' in exits.body
    seen, pages = _walk(client, "/cards/unknown?q=exit")
    assert seen == [c for c in _expected_order() if int(c, 16) % 2] and pages == 2
    assert "?q=exit&amp;after=" in exits.body  # the pager keeps the search
    both = client.get("/cards/unknown?q=exit+0A00002")  # every word: an exit card and a key
    assert sorted(_ROW.findall(both.body)) == [
        card(0x21),
        card(0x23),
        card(0x25),
        card(0x27),
        card(0x29),
        card(0x2B),
        card(0x2D),
        card(0x2F),
    ]
    nothing = client.get("/cards/unknown?q=zzzz")
    assert _ROW.findall(nothing.body) == [] and 'data-total="0"' in nothing.body


def test_the_fragment_is_the_results_alone(stack: Stack) -> None:
    client = _client(stack)
    full = client.get("/cards/unknown?q=0A00002A")
    part = client.get("/cards/unknown?q=0A00002A&partial=1")
    assert part.status == 200 and "<html" not in part.body and 'role="search"' not in part.body
    assert _ROW.findall(part.body) == ["0A00002A"] and 'id="unknown-count"' in part.body
    assert 'data-live-search="unknown-results"' in full.body
    assert 'data-live-list="/cards/unknown/events"' in full.body and 'data-partial="1"' in full.body


def test_a_bad_cursor_is_a_400_page_of_one_line(stack: Stack) -> None:
    client = _client(stack)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for cursor in (
        "zzz",
        b64(b'["x", "0A000001"]'),  # a text where the instant goes
        b64(b"[1]"),
        b64(b'[true, "0A"]'),
        b64(json.dumps([2**62, "0A000001"]).encode()),  # past the calendar's end
        "A" * 5000,
    ):
        page = client.get(f"/cards/unknown?after={quote_plus(cursor)}")
        assert page.status == 400, cursor
        assert "bad page cursor: start again from the first page" in page.body
        assert "Traceback" not in page.body
        assert client.get(f"/cards/unknown?after={quote_plus(cursor)}&partial=1").status == 400
    assert not [line for line in stack.web.log if "Traceback" in line]


def test_the_people_page_shows_the_first_page_live(stack: Stack) -> None:
    client = _client(stack)
    people = client.get("/people?q=ana")
    first = _ROW.findall(people.body)
    assert first == _expected_order()[:25]
    assert 'data-partial="unknown"' in people.body and 'href="/cards/unknown"' in people.body
    nxt = _NEXT.findall(people.body)
    assert any(link.startswith("/cards/unknown?after=") for link in nxt)
    part = client.get("/people?q=ana&partial=unknown")
    assert "<html" not in part.body and _ROW.findall(part.body) == first
    assert 'id="people-table"' not in part.body  # the unknown cards, not the people
    assert 'name="next" value="/people?q=ana"' in part.body


def test_an_assignment_comes_back_to_the_page_it_was_made_on(stack: Stack) -> None:
    client = _client(stack)
    shown = client.get("/cards/unknown?q=exit")
    assert 'name="next" value="/cards/unknown?q=exit"' in shown.body
    target = card(CARDS - 1)  # an exit card, the latest
    answer = client.post(
        "/cards/assign", {"card": target, "uid": "marta.ruiz", "next": "/cards/unknown?q=exit"}
    )
    assert answer.status == 303 and answer.location == "/cards/unknown?q=exit"
    after = client.get(answer.location)
    assert target not in _ROW.findall(after.body) and 'data-total="29"' in after.body
    held = "SELECT person_uid FROM cards WHERE card_key = ? AND revoked_at IS NULL"
    assert sql(stack.url, held, (target,)) == [("marta.ruiz",)]


def _first_unknown_event(stack: Stack, client: Client, timeout: float = 10.0) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", stack.web.port, timeout=timeout)
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies())
    deadline = time.monotonic() + timeout  # each line's wait is the socket's timeout
    try:
        conn.request("GET", "/cards/unknown/events", headers={"Cookie": cookie})
        response = conn.getresponse()
        assert response.status == 200
        event = None
        while time.monotonic() < deadline:
            line = response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "unknown":
                data: dict[str, str] = json.loads(line[6:])
                return data
        raise TimeoutError(f"no unknown event within {timeout} s")
    finally:
        conn.close()


def test_the_stream_sends_the_lists_fingerprint(stack: Stack) -> None:
    client = _client(stack)
    state = _STATE.search(client.get("/cards/unknown?partial=1").body)
    assert state is not None
    expected = {"state": unescape(state.group(1))}
    # The topic follows the database within a second or so of the last change.
    event = wait_until(
        lambda: (e := _first_unknown_event(stack, client)) == expected and e,
        15,
        "the stream's fingerprint to be the fragment's",
        interval_s=0.2,
    )
    assert "0A" not in json.dumps(event)  # no card leaves in the stream: the page fetches them
