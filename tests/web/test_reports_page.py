"""The reports page at a school's size, over HTTP against `clock-gateway web` as a
subprocess: a uid field instead of a select of everyone, one person's days, everyone's
month totals paged by uid (keyset, web/paging.py) and the 400s of bad input."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import time
from html import unescape
from urllib.parse import quote_plus

import pytest

from gateway.store.audit import Actor
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores
from gateway.web.routes_reports import REPORT_PEOPLE
from tests.web.client import Client
from tests.web.stack import ADMIN, PASSWORD, Stack, start_stack

pytestmark = pytest.mark.e2e

EXTRA = REPORT_PEOPLE + 20  # with the stack's own people: more than one page
_TOTAL_ROW = re.compile(r"<tr><td>\d{4}-\d\d</td><td>([^<]+)</td>")
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-reports")
    url = f"sqlite:///{tmp / 'gateway.db'}"
    stack = start_stack(url, tmp, history_days=10, web_only=True)

    async def more_people() -> None:
        """People with a timetable: each has a row of month totals."""
        stores = Stores.open(url)
        try:
            rows = list(await stores.timetable.timetable())
            for i in range(EXTRA):
                await stores.lifecycle.add_person(f"p{i:03d}", f"Persona {i:03d}", Actor("t"))
                rows += [TimetableEntry(f"p{i:03d}", d, time(9), time(14)) for d in range(1, 6)]
            await stores.timetable.replace_timetable(rows)
        finally:
            await stores.close()

    asyncio.run(more_people())
    try:
        yield stack
    finally:
        stack.close()


def _client(stack: Stack) -> Client:
    client = Client(stack.web.url)
    assert client.login(ADMIN, PASSWORD, "/reports").status == 303
    return client


def test_the_page_has_a_uid_field_not_a_select_of_everyone(stack: Stack) -> None:
    page = _client(stack).get("/reports")
    assert page.status == 200
    assert '<input name="uid"' in page.body and "<select" not in page.body
    assert 'id="report-days"' not in page.body  # everyone's days: the download has them


def test_everyones_totals_page_by_uid_and_cover_everyone_once(stack: Stack) -> None:
    client = _client(stack)
    path, seen, pages = "/reports", [], 0
    while True:
        page = client.get(path)
        assert page.status == 200, path
        uids = [unescape(u) for u in _TOTAL_ROW.findall(page.body)]
        assert 0 < len(uids) <= REPORT_PEOPLE, path
        seen += uids
        pages += 1
        found = _NEXT.search(page.body)
        if found is None:
            break
        path = unescape(found.group(1))
        assert "after=" in path
        assert pages < 10, "the pager does not end"
    assert pages == 2
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert {f"p{i:03d}" for i in range(EXTRA)} <= set(seen) and "luis.nunez" in seen
    assert 'rel="first"' in client.get(path).body


def test_one_persons_days_and_totals(stack: Stack) -> None:
    page = _client(stack).get("/reports?uid=p007")
    assert page.status == 200 and 'id="report-days"' in page.body
    assert _TOTAL_ROW.findall(page.body) == ["p007"]
    assert 'href="/people/p007"' in page.body
    assert "Persona 000" not in page.body


@pytest.mark.parametrize(
    "query",
    [
        "uid=nobody.here",
        "uid=" + quote_plus("two words"),
        "after=%5B",
        "after=zzz",
        "month=2026-13",
    ],
)
def test_bad_input_is_a_400_page(stack: Stack, query: str) -> None:
    page = _client(stack).get(f"/reports?{query}")
    assert page.status == 400 and "Traceback" not in page.body
