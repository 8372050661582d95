"""The people list and a person's page over HTTP, against `clock-gateway web` as a
subprocess: search (accents and case ignored), filters, keyset pages and their 400s,
the fragment the search box fetches, a person's page per role, and the actions moved
there (audited, role-checked, back to the page they came from)."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import quote_plus

import pytest

from gateway.store.audit import Actor
from gateway.store.stores import Stores
from tests.store.support import sql
from tests.web.client import Client
from tests.web.stack import ADMIN, PASSWORD, ZONE, Stack, start_stack

pytestmark = pytest.mark.e2e

PW = "a good long password"
HR, INSPECTOR = ("rrhh", PW), ("itss", PW)
EXTRA = 120  # more people than two pages: "Persona 000" ... "Persona 119"
_ROW = re.compile(r'<tr[^>]*><td><a href="/people/([^"]+)">')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-people")
    soon = datetime.now(UTC) + timedelta(days=30)
    url = f"sqlite:///{tmp / 'gateway.db'}"
    stack = start_stack(
        url,
        tmp,
        history_days=10,
        web_only=True,
        accounts=[(HR[0], PW, "hr", None), (INSPECTOR[0], PW, "inspector", soon)],
    )

    async def more_people() -> None:
        stores = Stores.open(url)
        try:
            for i in range(EXTRA):
                await stores.lifecycle.add_person(f"p{i:03d}", f"Persona {i:03d}", Actor("t"))
        finally:
            await stores.close()

    asyncio.run(more_people())
    try:
        yield stack
    finally:
        stack.close()


def _client(stack: Stack, who: tuple[str, str] = (ADMIN, PASSWORD)) -> Client:
    client = Client(stack.web.url)
    assert client.login(*who, "/people").status == 303
    return client


def _uids(body: str) -> list[str]:
    return _ROW.findall(body)


def test_search_by_name_ignores_case_and_accents(stack: Stack) -> None:
    client = _client(stack)
    for text in ("nunez", "NÚÑEZ", "luis nú", "Luis"):
        page = client.get(f"/people?q={quote_plus(text)}")
        assert page.status == 200 and _uids(page.body) == ["luis.nunez"], text
    assert _uids(client.get("/people?q=lucia").body) == ["lucia.ferrer"]  # Lucía
    assert _uids(client.get("/people?q=04b2c3").body) == ["luis.nunez"]  # a card key
    assert _uids(client.get("/people?q=irene.ruiz").body) == ["irene.ruiz"]  # a uid
    assert _uids(client.get("/people?q=ruiz").body) == ["irene.ruiz", "marta.ruiz"]
    nobody = client.get("/people?q=zzzz")
    assert _uids(nobody.body) == [] and 'data-total="0"' in nobody.body


def test_the_fragment_is_the_results_alone(stack: Stack) -> None:
    client = _client(stack)
    full = client.get("/people?q=nunez")
    part = client.get("/people?q=nunez&partial=1")
    assert part.status == 200 and "<html" not in part.body and "<form" not in part.body
    assert _uids(part.body) == ["luis.nunez"] and 'id="people-count"' in part.body
    assert 'data-live-search="people-results"' in full.body and 'id="people-results"' in full.body
    assert "script-src 'self'" in full.headers.get("content-security-policy", "")


def test_filters_by_state_and_room(stack: Stack) -> None:
    client = _client(stack)
    nocard = _uids(client.get("/people?state=nocard&q=a").body)
    assert "marta.ruiz" in nocard and "nuria.blanco" in nocard and "ana.garcia" not in nocard
    assert _uids(client.get("/people?room=Aula+12").body) == ["ana.garcia", "carmen.vidal"]
    assert _uids(client.get("/people?state=erased").body) == []
    for bad in ("state=gone", "room=Nowhere", "state=%00"):
        page = client.get(f"/people?{bad}")
        assert page.status == 400 and "Traceback" not in page.body, bad


def test_pages_follow_one_another_and_cover_everyone_once(stack: Stack) -> None:
    client = _client(stack)
    seen: list[str] = []
    path: str | None = "/people?q=persona"
    pages = 0
    while path is not None:
        page = client.get(unescape(path))
        assert page.status == 200
        seen += _uids(page.body)
        found = _NEXT.search(page.body)
        path = found.group(1) if found else None
        pages += 1
        assert pages <= EXTRA, "the pager does not end"
    assert seen == [f"p{i:03d}" for i in range(EXTRA)]
    assert pages == 3  # 50 + 50 + 20
    assert "?q=persona&amp;after=" in client.get("/people?q=persona").body  # keeps the search


def test_a_bad_cursor_is_a_400_page(stack: Stack) -> None:
    client = _client(stack)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for cursor in (
        "zzz",
        "!!!",
        b64(b"not json"),
        b64(b'["only one"]'),
        b64(b"[1, 2]"),
        b64(b'{"a": 1}'),
        b64(b"\xff\xfe"),
        "A" * 5000,
        "é",
    ):
        page = client.get(f"/people?after={quote_plus(cursor)}")
        assert page.status == 400, cursor
        assert "bad page cursor" in page.body and "Traceback" not in page.body
    person = client.get(f"/people/ana.garcia?audit_before={b64(b'[true]')}")
    assert person.status == 400
    assert not [line for line in stack.web.log if "Traceback" in line]


def test_a_persons_page_shows_their_record(stack: Stack) -> None:
    client = _client(stack)
    page = client.get("/people/luis.nunez")
    assert page.status == 200
    body = page.body
    assert "<h1>Luis Núñez</h1>" in body and "04B2C3D4" in body
    assert 'id="timetable"' in body and "Laboratorio" in body
    assert 'id="person-days"' in body and 'class="flag' in body  # the month, with flags
    assert 'id="person-audit"' in body and "person.add" in body
    assert 'action="/cards/revoke"' in body and 'name="next" value="/people/luis.nunez"' in body
    assert client.get("/people/nobody.here").status == 404
    assert client.get("/people/luis.nunez?month=2026-13").status == 400


def test_each_role_sees_what_it_may(stack: Stack) -> None:
    hr = _client(stack, HR).get("/people/luis.nunez").body
    assert 'action="/cards/revoke"' in hr and 'id="person-audit"' not in hr  # hr: no audit log
    inspector = _client(stack, INSPECTOR).get("/people/luis.nunez").body
    assert "04B2C3D4" in inspector and 'id="person-audit"' in inspector
    assert '<form method="post" action="/cards' not in inspector  # reads, changes nothing
    assert 'action="/people/add"' not in _client(stack, INSPECTOR).get("/people").body


def test_signed_out_a_persons_page_asks_to_sign_in_and_comes_back(stack: Stack) -> None:
    client = Client(stack.web.url)
    answer = client.get("/people/eva.martin")
    assert answer.status == 303 and answer.location == "/login?next=/people/eva.martin"
    assert client.login(ADMIN, PASSWORD, "/people/eva.martin").location == "/people/eva.martin"


def test_actions_return_to_the_page_audited_and_role_checked(stack: Stack) -> None:
    admin = _client(stack)
    admin.get("/people/pau.soler")
    answer = admin.post("/cards/revoke", {"card": "04A0A0A0", "next": "/people/pau.soler"})
    assert answer.status == 303 and answer.location == "/people/pau.soler"
    page = admin.get("/people/pau.soler").body
    assert 'class="flash"' in page and 'action="/cards/revoke"' not in page
    audit = sql(
        stack.url,
        "SELECT actor, target, details FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT 1",
        ("card.revoke",),
    )
    assert audit[0][0] == ADMIN and audit[0][1] == "pau.soler" and "04A0A0A0" in audit[0][2]

    answer = admin.post("/cards/assign", {"card": "04A0A0A0", "uid": "pau.soler", "next": "x"})
    assert answer.location == "/people"  # not a local path: the list
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        answer = admin.post("/people/rename", {"uid": "pau.soler", "name": "Pau", "next": evil})
        assert answer.status == 303 and answer.location == "/people", evil

    inspector = _client(stack, INSPECTOR)
    inspector.get("/people/pau.soler")
    refused = inspector.post("/cards/revoke", {"card": "04A0A0A0", "next": "/people/pau.soler"})
    assert refused.status == 403
    assert sql(
        stack.url,
        "SELECT count(*) FROM cards WHERE card_key = ? AND revoked_at IS NULL",
        ("04A0A0A0",),
    ) == [(1,)]
    assert sql(
        stack.url,
        "SELECT count(*) FROM audit_log WHERE action = ? AND target = ?",
        ("access.refused", "/cards/revoke"),
    ) == [(1,)]


def test_the_list_is_light(stack: Stack) -> None:
    """The rows are links: no form per row, at most a page of them."""
    body = _client(stack).get("/people").body
    assert len(_uids(body)) == 50
    # Sign-out, search, add a person (no unknown card tapped in this stack): none of a row.
    assert body.count("<form") == 3
    assert 'action="/people/rename"' not in body and 'action="/cards/revoke"' not in body


def test_the_audit_log_finds_filters_and_pages(stack: Stack) -> None:
    client = _client(stack)
    client.get("/people/eva.martin")
    for n in range(3):
        client.post("/people/rename", {"uid": "eva.martin", "name": f"Eva Martín {n}"})
    found = client.get("/audit?q=eva.martin&action=person.")
    assert found.status == 200 and found.body.count("person.rename") == 3
    assert "card.assign" not in found.body  # eva's card, but another family
    part = client.get("/audit?q=EVA.MARTIN&action=person.&partial=1")
    assert "<html" not in part.body and part.body.count("person.rename") == 3
    assert client.get("/audit?action=person.rename").status == 400  # families only
    assert client.get("/audit?after=zzz").status == 400
    assert client.get("/audit?before=%C2%B2").status == 200  # the old links: first page
    # 100 a page: the pager follows by id and the next page is older.
    first = client.get("/audit")
    nxt = _NEXT.search(first.body)
    assert nxt is not None and "after=" in nxt.group(1)
    assert client.get(unescape(nxt.group(1))).status == 200


def test_the_corrections_list_filters_and_pages(stack: Stack) -> None:
    client = _client(stack)
    page = client.get("/corrections?uid=eva.martin")
    assert page.status == 200 and 'value="eva.martin"' in page.body
    assert '<option value="ana.garcia"' not in page.body  # no list of everyone
    # Yesterday: a missed punch may not be in the future (09:00 today was, before 9).
    day = (datetime.now(ZONE) - timedelta(days=1)).strftime("%Y-%m-%d")
    for reason in ("olvido 1", "olvido 2"):
        made = client.post(
            "/corrections/add",
            {
                "uid": "eva.martin",
                "direction": "out",
                "date": day,
                "time": "09:00",
                "reason": reason,
            },
        )
        assert made.status == 303
    listed = client.get("/corrections?uid=eva.martin&kind=add&partial=1")
    assert "<html" not in listed.body and "olvido 1" in listed.body and "olvido 2" in listed.body
    assert 'href="/people/eva.martin"' in listed.body
    assert "olvido" not in client.get("/corrections?kind=void").body
    assert client.get("/corrections?kind=other").status == 400
    assert client.get("/corrections?after=%5B").status == 400
    unknown = client.get("/corrections?uid=nobody.here")
    assert unknown.status == 200 and 'action="/corrections/void"' not in unknown.body


def test_a_person_added_opens_their_page(stack: Stack) -> None:
    client = _client(stack)
    client.get("/people")
    added = client.post("/people/add", {"uid": "nuevo/1", "name": "  Nuevo   Núñez "})
    assert added.status == 303 and added.location == "/people/nuevo%2F1"
    page = client.get(added.location)
    assert page.status == 200 and "<h1>Nuevo Núñez</h1>" in page.body
    again = client.post("/people/add", {"uid": "nuevo/1", "name": "Otro"})
    assert again.status == 303 and again.location == "/people"  # refused: back, with why
    assert "already exists" in client.get("/people").body
    assert _uids(client.get("/people?q=nuevo").body) == ["nuevo%2F1"]


def test_hostile_paths_and_searches_get_a_page_not_a_500(stack: Stack) -> None:
    client = _client(stack)
    nul = base64.urlsafe_b64encode(b'["a\\u0000", "b"]').decode().rstrip("=")
    for path, status in (
        ("/people?q=%00ana", 200),
        ("/people?q=" + "a" * 5000, 200),
        ("/people/%00", 404),
        ("/people/" + "x" * 5000, 404),
        ("/people/ana%20garcia", 404),
        (f"/people?after={nul}", 400),
        ("/corrections?uid=%00", 400),
        ("/audit?q=%00", 200),
    ):
        answer = client.get(path)
        assert answer.status == status and "Traceback" not in answer.body, path
    assert not [line for line in stack.web.log if "Traceback" in line]


def test_a_persons_page_shows_their_working_regime_and_its_history(stack: Stack) -> None:
    from datetime import date

    from gateway.store.regimes import terms

    async def contracts() -> None:
        stores = Stores.open(stack.url)
        try:
            for day, percent in ((date(2026, 1, 1), None), (date(2026, 9, 1), 50)):
                week = terms(
                    part_time_percent=percent,
                    weekly_hours=None,
                    place="on_site",
                    full_week_minutes=37 * 60 + 30,
                )
                await stores.regimes.add("jorge.pena", day, week, Actor("t"))
        finally:
            await stores.close()

    client = _client(stack)
    assert 'id="regime"' in client.get("/people/sergio.gil").body  # none yet: said so
    asyncio.run(contracts())
    body = client.get("/people/jorge.pena").body
    section = body[body.index('id="regime"') : body.index('id="month"')]
    assert "01/09/2026 · vigente" in section and "Parcial 50 %" in section
    assert "18:45" in section and "37:30" in section  # the history, newest first
    assert section.index("01/09/2026") < section.index("01/01/2026")


def test_an_erased_persons_page_stays_and_offers_nothing(stack: Stack) -> None:
    client = _client(stack)
    client.get("/people/raul.ortiz")
    erased = client.post("/people/erase", {"uid": "raul.ortiz", "next": "/people/raul.ortiz"})
    assert erased.status == 303 and erased.location == "/people/raul.ortiz"
    page = client.get("/people/raul.ortiz")
    assert page.status == 200 and 'id="person-state">Borrada' in page.body
    assert 'method="post"' not in page.body.split("</header>", 1)[1]  # no action left
    assert "raul.ortiz" not in _uids(client.get("/people").body)
    assert _uids(client.get("/people?state=erased").body) == ["raul.ortiz"]


SHADOWED = ("live", "add", "rename", "active", "erase", "regime")  # /people/<these> routes


def test_a_person_whose_uid_names_a_route_opens_their_page(stack: Stack) -> None:
    """Every GET under /people/ is a person's page: the unknown cards' stream moved to
    /cards/unknown/events, and the other /people/... routes are POST only."""
    client = _client(stack)
    client.get("/people")
    for uid in SHADOWED:
        added = client.post("/people/add", {"uid": uid, "name": f"Persona {uid.title()}"})
        assert added.status == 303 and added.location == f"/people/{uid}", uid
    for who in ((ADMIN, PASSWORD), INSPECTOR):
        reader = _client(stack, who)
        for uid in SHADOWED:
            page = reader.get(f"/people/{uid}")
            assert page.status == 200, (who[0], uid)
            assert page.headers.get("content-type", "").startswith("text/html"), uid
            assert f"<h1>Persona {uid.title()}</h1>" in page.body, uid
    assert _uids(client.get("/people?q=persona+live").body) == ["live"]


def test_the_corrections_list_searches_and_its_cursor_pages(stack: Stack) -> None:
    """?q= finds by the person's name (accents ignored), uid or the reason, keeping the
    uid and kind; past 100 the cursor gives the next, older rows."""
    from gateway.web.routes_admin import CORRECTIONS_PAGE

    async def many() -> None:
        stores = Stores.open(stack.url)
        try:
            at = datetime.now(UTC) - timedelta(days=2)
            for n in range(CORRECTIONS_PAGE + 5):
                await stores.corrections.add_missing(
                    "irene.ruiz", "in", at - timedelta(minutes=n), f"lote {n:03d}", Actor("t")
                )
            await stores.corrections.add_missing(
                "lucia.ferrer", "out", at, "tarjeta olvidada en casa", Actor("t")
            )
        finally:
            await stores.close()

    asyncio.run(many())
    client = _client(stack)
    ids = re.compile(r'<tr data-id="(\d+)"')
    for text in ("lucia", "LUCÍA FERRER", "lucia.ferrer", "olvidada casa"):
        found = client.get(f"/corrections?q={quote_plus(text)}&partial=1")
        assert found.status == 200 and "tarjeta olvidada en casa" in found.body, text
        assert "lote" not in found.body, text
    assert "tarjeta olvidada" not in client.get("/corrections?q=lucia&kind=void").body
    with_uid = client.get("/corrections?uid=irene.ruiz&q=lote+004").body
    listed = client.get("/corrections?uid=irene.ruiz&q=lote+004&partial=1").body
    assert listed.count("lote 004") == 1 and "lote 005" not in listed
    assert "tarjeta olvidada" not in with_uid
    assert 'data-live-search="corrections-results"' in with_uid
    assert '<input type="hidden" name="uid" value="irene.ruiz">' in with_uid

    first = client.get("/corrections?q=lote")
    shown = [int(i) for i in ids.findall(first.body)]
    assert len(shown) == CORRECTIONS_PAGE and shown == sorted(shown, reverse=True)
    nxt = _NEXT.search(first.body)
    assert nxt is not None and "q=lote&amp;after=" in nxt.group(1)
    rest = [int(i) for i in ids.findall(client.get(unescape(nxt.group(1))).body)]
    assert len(rest) == 5 and max(rest) < min(shown)  # the next rows, older, none again
    bad = client.get("/corrections?q=lote&after=zzz")
    assert bad.status == 400 and "bad page cursor" in bad.body and "Traceback" not in bad.body


def test_the_audit_log_filters_by_target_and_its_cursor_pages(stack: Stack) -> None:
    client = _client(stack)
    client.get("/people/jorge.pena")
    for n in range(3):
        client.post("/people/rename", {"uid": "jorge.pena", "name": f"Jorge Peña {n}"})
    page = client.get("/people/jorge.pena").body
    assert 'href="/audit?target=jorge.pena"' in page
    about = client.get("/audit?target=jorge.pena")
    assert about.status == 200 and about.body.count("person.rename") == 3
    assert '<input type="hidden" name="target" value="jorge.pena">' in about.body
    assert "person.rename" not in client.get("/audit?target=jorge.pen").body  # exactly
    part = client.get("/audit?target=jorge.pena&q=rename&partial=1")
    assert "<html" not in part.body and part.body.count("person.rename") == 3
    assert client.get("/audit?target=%00").status == 400
    # The cursor: the next page's rows are the next older ones.
    ids = re.compile(r'<tr data-id="(\d+)"')
    first = client.get("/audit")
    nxt = _NEXT.search(first.body)
    assert nxt is not None
    older = client.get(unescape(nxt.group(1)))
    assert older.status == 200
    a, b = [int(i) for i in ids.findall(first.body)], [int(i) for i in ids.findall(older.body)]
    assert len(a) == 100 and b and max(b) == min(a) - 1
