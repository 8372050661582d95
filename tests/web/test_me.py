"""The worker's own record (issue 22 item 6) against `clock-gateway web` as a subprocess:
hr makes the account with a one-time code shown once, the first sign-in must replace
it, and a signed-in worker who tries every other worker's URLs and ids is refused each
time, with each refusal audited, and changes nothing."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store.audit import Actor
from gateway.store.stores import Stores
from tests.store.support import sql
from tests.web.client import Client
from tests.web.stack import ZONE, Stack, start_stack

pytestmark = pytest.mark.e2e

HR_NAME, PW = "rrhh", "a good long password"
OTHER = "luis.nunez"  # another worker, with an account of his own
NEW_PW = "my own password 2026"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-me")
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=5,
        web_only=True,
        accounts=[(HR_NAME, PW, "hr", None), (OTHER, PW, "worker", None)],
    )
    try:
        yield stack
    finally:
        stack.close()


def _hr(stack: Stack) -> Client:
    client = Client(stack.web.url)
    assert client.login(HR_NAME, PW, "/workers").location == "/workers"
    return client


def _refusals(stack: Stack) -> int:
    return int(
        sql(stack.url, "SELECT count(*) FROM audit_log WHERE action = 'access.refused'")[0][0]
    )


def _propose(stack: Stack, uid: str, hours_ago: int) -> int:
    async def work() -> int:
        stores = Stores.open(stack.url)
        try:
            at = datetime.now(UTC) - timedelta(hours=hours_ago)
            return await stores.corrections.add_missing(
                uid, "out", at, "forgot to clock out", Actor(HR_NAME)
            )
        finally:
            await stores.close()

    return asyncio.run(work())


def _state(stack: Stack, correction_id: int) -> list[str]:
    rows = sql(
        stack.url,
        "SELECT step FROM correction_steps WHERE correction_id = ? ORDER BY id",
        (correction_id,),
    )
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def ana(stack: Stack) -> Client:
    """Ana García's account made by hr on the web, signed in, her password set."""
    hr = _hr(stack)
    hr.get("/workers")
    made = hr.post("/workers/add", {"uid": "ana.garcia", "username": ""})
    headers = {k.lower(): v for k, v in made.headers.items()}
    assert made.status == 200 and headers.get("cache-control") == "no-store"
    found = re.search(r'id="code">([A-Z0-9-]+)<', made.body)
    assert found, made.body
    code = found.group(1)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    stored = sql(
        stack.url,
        "SELECT role, person_uid, must_change_password, password_hash FROM accounts "
        "WHERE username = 'ana.garcia'",
    )
    assert stored[0][:3] in (("worker", "ana.garcia", 1), ("worker", "ana.garcia", True))
    assert code not in stored[0][3] and stored[0][3].startswith("$argon2id$")
    assert code not in json.dumps(sql(stack.url, "SELECT details FROM audit_log"))
    assert code not in hr.get("/workers").body  # shown once

    client = Client(stack.web.url)
    signed = client.login("ana.garcia", code, "/me")
    assert signed.status == 303 and signed.location == "/me"
    assert client.get("/me").location == "/me/password"  # the code must be replaced first
    assert client.get("/me/download").location == "/me/password"
    assert client.get("/me/password").status == 200
    short = client.post("/me/password", {"password": "short", "again": "short"})
    assert short.location == "/me/password"
    done = client.post("/me/password", {"password": NEW_PW, "again": NEW_PW})
    assert done.status == 303 and done.location == "/me"
    assert client.get("/me").status == 200
    assert Client(stack.web.url).login("ana.garcia", code).status == 401  # the code is spent
    fresh = Client(stack.web.url)
    assert fresh.login("ana.garcia", NEW_PW, "/me").location == "/me"
    return client


def test_the_worker_sees_their_own_month_and_no_one_else(stack: Stack, ana: Client) -> None:
    page = ana.get("/me")
    assert page.status == 200 and "Ana García" in page.body
    for uid, name, *_rest in [("luis.nunez", "Luis Núñez"), ("eva.martin", "Eva Martín")]:
        assert name not in page.body and uid not in page.body
    assert 'href="/people"' not in page.body and 'href="/totals"' not in page.body
    assert 'name="viewport"' in page.body and "/static/me.css" in page.body
    if 'id="days"' in page.body:  # mornings this month (none on the month's first days)
        # The month's hours by class, from the working-time rules (no regime: ordinary).
        assert re.search(r'id="month-classes">Ordinarias \d+:\d\d', page.body), page.body


def test_every_other_workers_url_and_id_is_refused_and_audited(stack: Stack, ana: Client) -> None:
    theirs = _propose(stack, OTHER, 30)
    mine = _propose(stack, "ana.garcia", 29)
    ana.get("/me")
    before = _refusals(stack)
    corrections_before = sql(stack.url, "SELECT count(*) FROM corrections")
    attempts = [
        ("GET", f"/me?uid={OTHER}", None),
        ("GET", f"/me?month=2026-11&uid={OTHER}", None),
        ("GET", f"/me/download?uid={OTHER}", None),
        ("GET", f"/me/download?what=corrections&uid={OTHER}", None),
        ("POST", "/me/accept", {"id": str(theirs)}),
        ("POST", "/me/reject", {"id": str(theirs), "note": "not mine"}),
        ("POST", "/me/withdraw", {"id": str(theirs)}),
        ("POST", "/me/accept", {"id": "999999"}),  # no such id: the same answer
        ("POST", "/me/accept", {"id": str(mine), "uid": OTHER}),
        ("POST", "/me/request", {"uid": OTHER, "direction": "in", "date": "2026-11-23",
                                 "time": "08:00", "note": "for him"}),
        # What the other roles have: refused by the guard, audited there.
        ("GET", f"/reports?uid={OTHER}", None),
        ("GET", f"/corrections?uid={OTHER}", None),
        ("POST", "/corrections/accept", {"id": str(theirs)}),
        ("GET", "/totals", None),
        ("GET", "/people", None),
        ("GET", "/open-days", None),
        ("POST", "/workers/code", {"username": OTHER}),
    ]  # fmt: skip
    for method, path, form in attempts:
        answer = ana.get(path) if method == "GET" else ana.post(path, form)
        assert answer.status == 403, (method, path, answer.status, answer.location)
        assert "Luis" not in answer.body
    assert _refusals(stack) - before == len(attempts)
    refused = sql(
        stack.url,
        "SELECT actor, target, details FROM audit_log WHERE action = 'access.refused' "
        "ORDER BY id DESC LIMIT ?",
        (len(attempts),),
    )
    assert {r[0] for r in refused} == {"ana.garcia"}
    assert any(json.loads(r[2]).get("id") == str(theirs) for r in refused)
    # Nothing changed: Luis's correction still waits for him, nothing was requested.
    assert _state(stack, theirs) == ["proposed"]
    assert _state(stack, mine) == ["proposed"]
    assert sql(stack.url, "SELECT count(*) FROM corrections") == corrections_before


def test_the_worker_accepts_rejects_requests_and_downloads(stack: Stack, ana: Client) -> None:
    first = _propose(stack, "ana.garcia", 27)
    second = _propose(stack, "ana.garcia", 26)
    page = ana.get("/me")
    assert f'data-id="{first}"' in page.body and f'data-id="{second}"' in page.body
    assert ana.post("/me/accept", {"id": str(first)}).location == "/me"
    assert _state(stack, first) == ["proposed", "accepted"]
    no_reason = ana.post("/me/reject", {"id": str(second), "note": " "})
    assert no_reason.location == "/me" and _state(stack, second) == ["proposed"]
    ana.get("/me")
    ana.post("/me/reject", {"id": str(second), "note": "I left at 15:00"})
    assert _state(stack, second) == ["proposed", "rejected"]
    today = datetime.now(ZONE).date().isoformat()
    asked = ana.post(
        "/me/request", {"direction": "in", "date": today, "time": "00:01", "note": "card at home"}
    )
    assert asked.location == "/me"
    rows = sql(
        stack.url,
        "SELECT c.id, s.side, s.note FROM corrections c JOIN correction_steps s "
        "ON s.correction_id = c.id WHERE c.person_uid = 'ana.garcia' AND c.reason = ?",
        ("card at home",),
    )
    assert [(r[1], r[2]) for r in rows] == [("worker", "card at home")]
    # Her own request she may withdraw, not accept.
    request_id = rows[0][0]
    ana.get("/me")
    ana.post("/me/accept", {"id": str(request_id)})
    assert _state(stack, request_id) == ["proposed"]
    ana.post("/me/withdraw", {"id": str(request_id)})
    assert _state(stack, request_id) == ["proposed", "withdrawn"]

    start = (datetime.now(ZONE).date() - timedelta(days=40)).isoformat()
    days = ana.get(f"/me/download?from={start}&to={today}&what=days")
    headers = {k.lower(): v for k, v in days.headers.items()}
    assert days.status == 200 and headers["content-type"].startswith("text/csv")
    lines = days.body.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("uid,name,day,start,end,pauses,worked")
    assert len(lines) > 1 and all(line.startswith("ana.garcia,") for line in lines[1:])
    trail = ana.get(f"/me/download?from={start}&to={today}&what=corrections")
    assert "accepted" in trail.body and "I left at 15:00" in trail.body
    assert OTHER not in trail.body
    assert ana.get("/me/download?from=2026-13-01").status == 400
    assert ana.get("/me?month=soon").status == 400


def test_hr_sees_open_days_with_the_proposed_close(stack: Stack) -> None:
    async def flag() -> None:
        stores = Stores.open(stack.url)
        try:
            day = datetime.now(ZONE).date() - timedelta(days=1)
            close = datetime.now(UTC) - timedelta(hours=20)
            assert await stores.open_days.flag(
                "eva.martin", day, now=datetime.now(UTC), close_at=close,
                reason="forgotten clock-out", actor=Actor("cli:test"),
            )  # fmt: skip
            assert not await stores.open_days.flag(  # once per person and day
                "eva.martin", day, now=datetime.now(UTC), close_at=close,
                reason="again", actor=Actor("cli:test"),
            )  # fmt: skip
        finally:
            await stores.close()

    asyncio.run(flag())
    page = _hr(stack).get("/open-days")
    assert page.status == 200
    row = re.search(r"<tr><td>[0-9-]+</td><td>Eva Martín.*?</tr>", page.body, re.S)
    assert row, page.body
    assert "todavía no" in row.group(0) and "pendiente" in row.group(0)
    assert sql(stack.url, "SELECT count(*) FROM open_day_notices") == [(1,)]


def test_the_worker_downloads_their_monthly_summary(stack: Stack, ana: Client) -> None:
    """The PDF hr hands out with the payslip, for the worker's own month: their name,
    and each day the stack stored; another person's, or a bad month, refused."""
    month = f"{datetime.now(ZONE).date():%Y-%m}"
    status, kind, body = ana.get_bytes(f"/me/download?what=summary&month={month}")
    assert status == 200 and kind == "application/pdf" and body.startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=body, capture_output=True, timeout=60, check=True
    ).stdout.decode()
    assert "Ana García" in text and month in text, text[:400]
    assert OTHER not in text
    before = _refusals(stack)
    other = ana.get_bytes(f"/me/download?what=summary&month={month}&uid={OTHER}")
    assert other[0] == 403 and _refusals(stack) == before + 1
    assert ana.get_bytes("/me/download?what=summary&month=2026-13")[0] == 400
