"""The readers page at a fleet's size (issue 25 item 1) over HTTP, against `clock-gateway
web` as a subprocess: ?q= narrows both this gateway's readers (from the daemon's status
file: by name or port) and the fleet table (by gateway id, host name or a reader's
name); the fleet pages by gateway id, covering every gateway once; a bad cursor is a
400 page of one line; the fragment the search box fetches."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape

import pytest

from gateway.status import ReaderStatus, StatusSnapshot, write_status
from gateway.store.gateways import GatewayHeartbeat, GatewayReader
from gateway.store.stores import Stores
from tests.web.client import Client
from tests.web.stack import ADMIN, PASSWORD, Stack, start_stack

pytestmark = pytest.mark.e2e

FLEET = 70  # more than a page of 50
_GATEWAY = re.compile(r"<tr><td>(gw-[a-z0-9-]+) ")
_READER = re.compile(r'<tr><td>([^<]+) <span class="muted mono">')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-readers")
    url = f"sqlite:///{tmp / 'gateway.db'}"
    stack = start_stack(url, tmp, history_days=0, web_only=True)
    now = datetime.now(UTC)
    write_status(
        tmp / "state",
        StatusSnapshot(
            pid=os.getpid(),
            started_at=now,
            readers=(
                ReaderStatus("entrance", "/dev/ttyACM0", "in", "ready"),
                ReaderStatus("exit", "/dev/ttyUSB7", "out", "ready"),
                ReaderStatus("gimnasio", "/dev/ttyACM3", "in", "reconnecting"),
            ),
        ),
    )

    async def fleet() -> None:
        stores = Stores.open(url)
        try:
            for i in range(FLEET):
                name = "biblioteca" if i % 10 == 0 else "puerta"
                await stores.gateways.publish(
                    GatewayHeartbeat(
                        id=f"gw-{i:03d}",
                        version="1.0",
                        hostname=f"pi-{i:03d}",
                        started_at=now,
                        readers=(GatewayReader(name, "in", "ready"),),
                    )
                )
        finally:
            await stores.close()

    asyncio.run(fleet())
    try:
        yield stack
    finally:
        stack.close()


def _client(stack: Stack) -> Client:
    client = Client(stack.web.url)
    assert client.login(ADMIN, PASSWORD, "/readers").status == 303
    return client


def test_the_fleet_pages_by_gateway_id(stack: Stack) -> None:
    client = _client(stack)
    seen: list[str] = []
    path: str | None = "/readers"
    pages = 0
    while path is not None:
        page = client.get(unescape(path))
        assert page.status == 200
        seen += _GATEWAY.findall(page.body)
        found = _NEXT.search(page.body)
        path = found.group(1) if found else None
        pages += 1
        assert pages <= FLEET, "the pager does not end"
    assert seen == [f"gw-{i:03d}" for i in range(FLEET)] and pages == 2
    first = client.get("/readers").body
    assert _READER.findall(first) == ["entrance", "exit", "gimnasio"]  # no search: all


def test_the_search_narrows_both_tables(stack: Stack) -> None:
    client = _client(stack)
    by_port = client.get("/readers?q=ttyacm")
    assert _READER.findall(by_port.body) == ["entrance", "gimnasio"]
    assert _GATEWAY.findall(by_port.body) == []  # no gateway has it
    by_name = client.get("/readers?q=BIBLIOTECA")
    assert _GATEWAY.findall(by_name.body) == [f"gw-{i:03d}" for i in range(0, FLEET, 10)]
    assert _READER.findall(by_name.body) == []
    by_id = client.get("/readers?q=gw-06")
    assert _GATEWAY.findall(by_id.body) == [f"gw-06{i}" for i in range(10)]
    by_host = client.get("/readers?q=pi-042")
    assert _GATEWAY.findall(by_host.body) == ["gw-042"]
    # A search of more than a page pages too, keeping the search.
    many = client.get("/readers?q=puerta")
    assert len(_GATEWAY.findall(many.body)) == 50
    nxt = _NEXT.search(many.body)
    assert nxt is not None and "q=puerta&amp;after=" in nxt.group(1)
    rest = client.get(unescape(nxt.group(1)))
    assert len(_GATEWAY.findall(rest.body)) == FLEET - FLEET // 10 - 50
    assert 'data-live-search="readers-results"' in client.get("/readers").body


def test_the_fragment_is_the_results_alone(stack: Stack) -> None:
    part = _client(stack).get("/readers?q=exit&partial=1")
    assert part.status == 200 and "<html" not in part.body and 'role="search"' not in part.body
    assert _READER.findall(part.body) == ["exit"] and "data-count" in part.body


def test_a_bad_cursor_is_a_400_page_of_one_line(stack: Stack) -> None:
    client = _client(stack)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for cursor in ("zzz", b64(b"[1]"), b64(b'["a", "b"]'), b64(b'["\\u0000"]')):
        page = client.get(f"/readers?after={cursor}")
        assert page.status == 400, cursor
        assert "bad page cursor: start again from the first page" in page.body
        assert "Traceback" not in page.body
    assert not [line for line in stack.web.log if "Traceback" in line]
