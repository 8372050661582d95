"""Accounts with roles (issue 21 items 6 and 8): every route walked by every role and by
a signed-out browser, against `clock-gateway web` as a subprocess; the representatives'
monthly totals; an inspector's expiry; a role change ending sessions; what the board
sends in each of its modes."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.web.app import create_app
from tests.store.support import sql
from tests.support.wait import wait_until
from tests.web.client import Client
from tests.web.stack import ADMIN, PASSWORD, PEOPLE, ZONE, Stack, _event, start_stack

pytestmark = pytest.mark.e2e

PW = "a good long password"
ACCOUNTS = {
    "admin": (ADMIN, PASSWORD),
    "hr": ("rrhh", PW),
    "inspector": ("itss", PW),
    "representative": ("comite", PW),
    "worker": ("ana.garcia", PW),  # the person's uid (tests/web/stack.py)
}
EXPIRED = "itss.old"
# What the walk asks for a route with parameters: a page that exists.
EXAMPLE = {"/people/{uid:path}": "/people/ana.garcia"}

# Written from the roles, not from roles.py: who may use each route.
ADM, HR, INS, REP, WRK = "admin", "hr", "inspector", "representative", "worker"
STAFF = {ADM, HR, INS, REP}
ALL = STAFF | {WRK}
EXPECTED: dict[tuple[str, str], set[str] | None] = {  # None: open to anyone
    ("/", "GET"): None,
    ("/events", "GET"): None,
    ("/login", "GET"): None,
    ("/login", "POST"): None,
    ("/logout", "POST"): None,
    ("/people", "GET"): {ADM, HR, INS},
    ("/people/add", "POST"): {ADM, HR},
    ("/people/rename", "POST"): {ADM, HR},
    ("/people/active", "POST"): {ADM, HR},
    ("/people/erase", "POST"): {ADM, HR},
    ("/people/{uid:path}", "GET"): {ADM, HR, INS},  # a person's page
    ("/people/regime", "POST"): {ADM, HR},
    ("/cards/assign", "POST"): {ADM, HR},
    ("/cards/revoke", "POST"): {ADM, HR},
    ("/cards/unknown", "GET"): {ADM, HR, INS},
    ("/cards/unknown/events", "GET"): {ADM, HR, INS},
    ("/readers", "GET"): {ADM, HR, INS},
    ("/corrections", "GET"): {ADM, HR, INS},
    ("/corrections/add", "POST"): {ADM, HR},
    ("/corrections/void", "POST"): {ADM, HR},
    ("/corrections/accept", "POST"): {ADM, HR},
    ("/corrections/reject", "POST"): {ADM, HR},
    ("/corrections/withdraw", "POST"): {ADM, HR},
    ("/open-days", "GET"): {ADM, HR, INS},
    ("/workers", "GET"): {ADM, HR},
    ("/workers/add", "POST"): {ADM, HR},
    ("/workers/code", "POST"): {ADM, HR},
    ("/me", "GET"): {WRK},
    ("/me/request", "POST"): {WRK},
    ("/me/accept", "POST"): {WRK},
    ("/me/reject", "POST"): {WRK},
    ("/me/withdraw", "POST"): {WRK},
    ("/me/download", "GET"): {WRK},
    ("/me/password", "GET"): ALL,
    ("/me/password", "POST"): ALL,
    ("/audit", "GET"): {ADM, INS},
    ("/reports", "GET"): {ADM, HR, INS},
    ("/reports/download", "GET"): {ADM, HR, INS},
    ("/register/monthly", "GET"): {ADM, HR, INS},  # the register, cut by worker
    ("/totals", "GET"): STAFF,  # a worker sees their own record, not everyone's totals
    ("/register", "GET"): {ADM, HR, INS},
    ("/register/export", "GET"): {ADM, HR, INS},
    ("/accounts", "GET"): {ADM},
    ("/accounts/add", "POST"): {ADM},
    ("/accounts/role", "POST"): {ADM},
    ("/accounts/remove", "POST"): {ADM},
    ("/uploads/people", "GET"): {ADM, HR},
    ("/uploads/people", "POST"): {ADM, HR},
    ("/uploads/people/confirm", "POST"): {ADM, HR},
    ("/uploads/timetable", "GET"): {ADM, HR},
    ("/uploads/timetable", "POST"): {ADM, HR},
    ("/uploads/timetable/confirm", "POST"): {ADM, HR},
}
# An allowed empty POST is refused as bad input by a redirect, except these: a confirm
# naming no preview is a page of its own.
EMPTY_POST_STATUS = {"/uploads/people/confirm": 409, "/uploads/timetable/confirm": 409}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-roles")
    soon = datetime.now(UTC) + timedelta(days=30)
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=0,
        web_only=True,
        accounts=[
            (ACCOUNTS[HR][0], PW, HR, None),
            (ACCOUNTS[INS][0], PW, INS, soon),
            (ACCOUNTS[REP][0], PW, REP, None),
            (ACCOUNTS[WRK][0], PW, WRK, None),
            (EXPIRED, PW, INS, datetime.now(UTC) - timedelta(days=1)),
        ],
    )
    try:
        yield stack
    finally:
        stack.close()


def _signed_in(stack: Stack, role: str) -> Client:
    client = Client(stack.web.url)
    name, password = ACCOUNTS[role]
    answer = client.login(name, password, "/totals")
    landing = "/me" if role == WRK else "/totals"  # a worker may not open /totals
    assert answer.status == 303 and answer.location == landing, (role, answer.status)
    return client


def _stream_status(stack: Stack, client: Client, path: str) -> tuple[int, str]:
    """The status of an event stream, without reading the endless body."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.web.port, timeout=10)
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies())
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.headers.get("location", "")
    finally:
        conn.close()


def test_the_expected_table_covers_every_route_of_the_app(stack: Stack) -> None:
    app = create_app(load_config(str(stack.web.config)), secret="x" * 40)
    served = {
        (route.path, method)
        for route in app.routes
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD" and route.path != "/static"
    }
    assert served == set(EXPECTED)


@pytest.mark.parametrize("role", [None, ADM, HR, INS, REP, WRK])
def test_every_route_with_every_role(stack: Stack, role: str | None) -> None:
    client = _signed_in(stack, role) if role else Client(stack.web.url)
    if role is None:
        client.get("/login")  # a CSRF token, as a browser has one
    refused_before = sql(
        stack.url, "SELECT count(*) FROM audit_log WHERE action = ?", ("access.refused",)
    )
    refusals = 0
    for (path, method), roles in EXPECTED.items():
        if path == "/logout":
            continue  # ends the session: below
        if path in ("/events", "/cards/unknown/events"):
            status, location = _stream_status(stack, client, path)
        elif method == "GET":
            answer = client.get(EXAMPLE.get(path, path))
            status, location = answer.status, answer.location
        else:
            answer = client.post(path, {})  # empty: an allowed action refuses it as bad input
            status, location = answer.status, answer.location
        what = (role, method, path, status, location)
        if roles is None or (role is not None and role in roles):
            if method == "GET":
                assert status == 200, what
            elif path == "/login":
                assert status in (401, 429), what  # an attempt with no name: checked
            elif path in EMPTY_POST_STATUS:
                assert status == EMPTY_POST_STATUS[path], what
            else:
                assert status == 303 and not location.startswith("/login"), what
        elif role is None:
            assert status == 303 and location.startswith("/login"), what
        else:
            assert status == 403, what
            refusals += 1
    refused = sql(stack.url, "SELECT count(*) FROM audit_log WHERE action = ?", ("access.refused",))
    assert refused[0][0] - refused_before[0][0] == refusals  # each refusal audited
    if role is not None:
        assert client.post("/logout").location == "/login"
        assert client.get("/totals").location.startswith("/login")


def test_the_walk_changed_nothing(stack: Stack) -> None:
    """The refused POSTs above reached no handler, and the allowed ones were empty."""
    assert sql(stack.url, "SELECT count(*) FROM people") == [(len(PEOPLE),)]
    assert sql(stack.url, "SELECT count(*) FROM corrections") == [(0,)]
    assert sql(stack.url, "SELECT count(*) FROM accounts") == [(len(ACCOUNTS) + 1,)]
    assert sql(stack.url, "SELECT count(*) FROM work_regimes") == [(0,)]


def _last_month() -> tuple[str, date]:
    first = datetime.now(ZONE).date().replace(day=1)
    day = first - timedelta(days=1)
    while day.isoweekday() > 5:
        day -= timedelta(days=1)
    return f"{day:%Y-%m}", day


def test_a_representative_sees_monthly_totals_and_no_day(stack: Stack) -> None:
    from gateway.store.stores import Stores

    month, day = _last_month()
    at = datetime.combine(day, datetime.min.time(), tzinfo=ZONE)

    async def worked_six_hours() -> None:
        stores = Stores.open(stack.url)
        try:
            await stores.swipes.record_events(
                [
                    _event("eva.martin", "04E1E2E3", "in", (at + timedelta(hours=8, minutes=7))),
                    _event("eva.martin", "04E1E2E3", "out", (at + timedelta(hours=14, minutes=7))),
                ]
            )
        finally:
            await stores.close()

    asyncio.run(worked_six_hours())
    client = _signed_in(stack, REP)
    page = client.get(f"/totals?month={month}")
    assert page.status == 200 and "Eva Martín" in page.body and "6:00" in page.body
    assert "08:07" not in page.body and "14:07" not in page.body  # no daily detail
    assert 'href="/reports"' not in page.body and 'href="/people"' not in page.body
    assert client.get(f"/reports?month={month}&uid=eva.martin").status == 403


def test_an_expired_inspector_cannot_sign_in(stack: Stack) -> None:
    client = Client(stack.web.url)
    answer = client.login(EXPIRED, PW)
    assert answer.status == 403 and "caducado" in answer.body
    assert sql(stack.url, "SELECT target FROM audit_log WHERE action = 'login.expired'") == [
        (EXPIRED,)
    ]
    assert sql(stack.url, "SELECT count(*) FROM web_sessions WHERE username = ?", (EXPIRED,)) == [
        (0,)
    ]


def test_a_role_change_ends_the_accounts_sessions_at_once(stack: Stack) -> None:
    hr = _signed_in(stack, HR)
    assert hr.get("/people").status == 200
    admin = _signed_in(stack, ADM)
    admin.get("/accounts")
    done = admin.post("/accounts/role", {"username": ACCOUNTS[HR][0], "role": REP, "expires": ""})
    assert done.status == 303 and done.location == "/accounts"
    assert hr.get("/people").location.startswith("/login")  # ended, not merely demoted
    again = _signed_in(stack, HR)  # signs in again, as a representative now
    assert again.get("/people").status == 403
    admin.post("/accounts/role", {"username": ACCOUNTS[HR][0], "role": HR, "expires": ""})
    rows = sql(stack.url, "SELECT details FROM audit_log WHERE action = 'account.role' ORDER BY id")
    assert '"sessions_ended": 1' in rows[0][0]


def test_an_inspector_needs_an_expiry_on_the_accounts_page(stack: Stack) -> None:
    admin = _signed_in(stack, ADM)
    admin.get("/accounts")
    form = {"username": "itss.new", "role": INS, "expires": "", "password": PW, "again": PW}
    admin.post("/accounts/add", form)
    assert sql(stack.url, "SELECT count(*) FROM accounts WHERE username = 'itss.new'") == [(0,)]
    until = (date.today() + timedelta(days=7)).isoformat()
    admin.post("/accounts/add", {**form, "expires": until})
    assert sql(stack.url, "SELECT role FROM accounts WHERE username = 'itss.new'") == [(INS,)]
    assert "itss.new" in admin.get("/accounts").body and until in admin.get("/accounts").body


# -- the board's modes -----------------------------------------------------------
def _board_config(page: str) -> str:
    """The page's board data as text (the page escapes it as JSON for HTML)."""
    found = re.search(r'id="board-config">(.*?)</script>', page, re.S)
    assert found is not None
    return json.dumps(json.loads(found.group(1)), ensure_ascii=False)


def _first_board_event(stack: Stack, path: str = "/events") -> str:
    conn = http.client.HTTPConnection("127.0.0.1", stack.web.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        seen = b""
        deadline = time.monotonic() + 10
        while b"event: board" not in seen or not seen.endswith(b"\n\n"):
            assert time.monotonic() < deadline, seen
            seen += response.read1(65536)
        return seen.decode()
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["initials", "counts"])
def test_the_board_never_sends_what_its_mode_leaves_out(tmp_path: Path, mode: str) -> None:
    stack = start_stack(
        f"sqlite:///{tmp_path / 'g.db'}",
        tmp_path,
        history_days=0,
        web_only=True,
        web={"board": mode},
    )
    try:
        page = _board_config(Client(stack.web.url).get("/").body)
        stream = _first_board_event(stack)
        for _uid, name, _card, _room in PEOPLE:
            for word in name.split():
                assert word not in page and word not in stream, (mode, word)
        assert '"counts":{"absent":' in stream
        if mode == "initials":
            assert "A. G." in stream  # Ana García, scheduled now
        else:
            assert '"absent":[]' in stream and '"present":[]' in stream
    finally:
        stack.close()


def test_a_login_board_is_for_signed_in_accounts_only(tmp_path: Path) -> None:
    stack = start_stack(
        f"sqlite:///{tmp_path / 'g.db'}",
        tmp_path,
        history_days=0,
        web_only=True,
        web={"board": "login"},
    )
    try:
        anonymous = Client(stack.web.url)
        answer = anonymous.get("/")
        assert answer.status == 303 and answer.location.startswith("/login")
        assert "Ana" not in answer.body
        assert _stream_status(stack, anonymous, "/events")[0] == 403
        member = Client(stack.web.url)
        assert member.login(ADMIN, PASSWORD, "/").location == "/"
        wait_until(
            lambda: "Ana García" in _board_config(member.get("/").body), 10, "names for an account"
        )
    finally:
        stack.close()


def test_the_accounts_command_takes_roles_and_expiry_dates(tmp_path: Path) -> None:
    from bench.kit.harness import write_config
    from tests.web.test_http import _cli

    config = write_config(
        tmp_path / "c.toml", database_url=f"sqlite:///{tmp_path / 'g.db'}", state_dir=tmp_path
    )
    assert _cli(config, "db", "init").returncode == 0
    secret = "a long secret 1\n"
    no_end = _cli(config, "accounts", "add", "itss", "--role", "inspector", "--password-stdin")
    assert no_end.returncode == 7 and "expiry" in no_end.stderr
    bad = _cli(config, "accounts", "add", "x", "--expires", "2027-13-01", "--password-stdin")
    assert bad.returncode == 7 and "YYYY-MM-DD" in bad.stderr
    added = _cli(
        config,
        "accounts",
        "add",
        "itss",
        "--role",
        "inspector",
        "--expires",
        "2027-01-31",
        "--password-stdin",
        stdin=secret,
    )
    assert added.returncode == 0 and "inspector, until 2027-01-31" in added.stdout
    assert _cli(config, "admins", "add", "jefa", "--password-stdin", stdin=secret).returncode == 0
    listed = json.loads(_cli(config, "accounts", "list", "--json").stdout)
    assert [(a["username"], a["role"], a["expires"]) for a in listed] == [
        ("itss", "inspector", "2027-01-31"),
        ("jefa", "admin", None),  # the old command's accounts are admins, as before
    ]
    changed = _cli(config, "accounts", "role", "itss", "--role", "hr")
    assert changed.returncode == 0 and "0 open session(s) ended" in changed.stdout
    assert "itss  hr" in _cli(config, "admins", "list").stdout
    assert _cli(config, "accounts", "role", "ghost", "--role", "hr").returncode == 4
