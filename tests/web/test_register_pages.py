"""The register's web pages (issue 21 item 7) against `clock-gateway web` as a
subprocess: an inspector lands on what it can read and the seals' state; the export
downloads as one zip whose manifest `sha256sum -c` accepts, with the same files the
CLI writes; it is audited with who, range, person and head; bad dates are a 400 page
of one line and leave nothing behind; the inspector changes nothing."""

from __future__ import annotations

import io
import json
import re
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.store.support import sql
from tests.web.client import Client
from tests.web.register_stack import INSPECTOR, PW, register_stack
from tests.web.stack import ZONE, Stack
from tests.web.test_http import _cli

pytestmark = pytest.mark.e2e

TABLES = ("people", "cards", "clock_events", "corrections", "seals", "accounts", "timetable")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from register_stack(tmp_path_factory, "web-register")


def _inspector(stack: Stack) -> Client:
    client = Client(stack.web.url)
    answer = client.login(INSPECTOR, PW, "")
    assert answer.status == 303, answer
    assert answer.location == "/register"  # its own landing page, asked for nothing
    return client


def _download(client: Client, path: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(client.jar))
    try:
        with opener.open(client.base + path, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _month_range() -> tuple[str, str]:
    today = datetime.now(ZONE).date()
    return today.replace(day=1).isoformat(), today.isoformat()


def _counts(url: str) -> dict[str, int]:
    return {t: sql(url, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def test_an_inspector_lands_on_what_it_can_read_and_the_seals(stack: Stack) -> None:
    head = _cli(stack.web.config, "register", "head").stdout.strip()
    client = _inspector(stack)
    page = client.get("/register")
    assert page.status == 200
    assert 'id="seals-state">todos los sellos se mantienen' in page.body
    assert f'id="chain-head">{head}<' in page.body
    for link in ("/reports", "/corrections", "/people", "/audit", "/register/export"):
        assert f'href="{link}"' in page.body, link
    assert 'href="/accounts"' not in page.body
    posts = re.findall(r'<form method="post" action="([^"]*)"', page.body)
    assert posts == ["/logout"]  # nothing on the page changes anything
    assert "no cambia nada" in page.body


def test_the_web_export_is_the_clis_export_as_a_zip(stack: Stack, tmp_path: Path) -> None:
    first, last = _month_range()
    before = _counts(stack.url)
    audited = sql(stack.url, "SELECT count(*) FROM audit_log WHERE action = 'register.export'")
    client = _inspector(stack)
    assert client.get("/register/export").status == 200  # the form
    status, headers, body = _download(client, f"/register/export?from={first}&to={last}")
    assert status == 200 and headers["content-type"] == "application/zip"
    name = f"register-{first}-{last}"
    assert headers["content-disposition"] == f'attachment; filename="{name}.zip"'
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        archive.extractall(tmp_path / "web")
    folder = tmp_path / "web" / name
    check = subprocess.run(
        ["sha256sum", "-c", "MANIFEST.sha256"], cwd=folder, capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stdout.count(": OK") == 10, check.stdout
    files = {
        "days.csv", "corrections.csv", "correction_steps.csv", "months.csv", "worktime.csv",
        "worktime_months.csv",
        "register.xlsx", "register.pdf", "HEAD.txt", "README.txt", "MANIFEST.sha256",
    }  # fmt: skip
    assert {p.name for p in folder.iterdir()} == files
    assert "Luis Núñez" in (folder / "days.csv").read_text(encoding="utf-8")

    # The CLI over the same range writes the same tables, head and README (the xlsx and
    # PDF carry their own creation time).
    cli = _cli(
        stack.web.config, "register", "export", "--from", first, "--to", last,
        "--out", str(tmp_path / "cli"),
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    same_files = ("days.csv", "corrections.csv", "months.csv", "worktime.csv", "HEAD.txt")
    for same in (*same_files, "worktime_months.csv", "README.txt"):
        assert (folder / same).read_bytes() == (tmp_path / "cli" / same).read_bytes(), same

    rows = sql(
        stack.url,
        "SELECT actor, details FROM audit_log WHERE action = 'register.export' ORDER BY id",
    )
    assert len(rows) == audited[0][0] + 2  # the web's and the CLI's
    web_actor, details = rows[-2]
    assert web_actor == INSPECTOR
    head = (folder / "HEAD.txt").read_text().strip()
    assert json.loads(details) == {
        "from": first,
        "to": last,
        "people": "all",
        "head": head,
        "days": len((folder / "days.csv").read_text().splitlines()) - 1,
        "corrections": 0,
    }
    heads = (stack.tmp / "state" / "register-heads.jsonl").read_text().splitlines()
    assert sum('"why":"export"' in line and head.split(":")[1] in line for line in heads) == 2
    assert _counts(stack.url) == before  # an inspector's export changes nothing else


def test_one_person_only(stack: Stack, tmp_path: Path) -> None:
    first, last = _month_range()
    client = _inspector(stack)
    status, _headers, body = _download(
        client, f"/register/export?from={first}&to={last}&person=luis.nunez"
    )
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        days = archive.read(f"register-{first}-{last}-luis.nunez/days.csv").decode()
    lines = days.splitlines()[1:]
    assert lines and all(line.startswith("luis.nunez,") for line in lines)
    details = sql(
        stack.url,
        "SELECT target, details FROM audit_log WHERE action = 'register.export' "
        "ORDER BY id DESC LIMIT 1",
    )[0]
    assert details[0] == "luis.nunez" and json.loads(details[1])["people"] == ["luis.nunez"]


@pytest.mark.parametrize(
    ("query", "line"),
    [
        ("from=2026-13-01&to=2026-12-31", "bad date '2026-13-01': use YYYY-MM-DD"),
        ("from=2026-02-01&to=yesterday", "bad date 'yesterday': use YYYY-MM-DD"),
        ("from=2026-03-01&to=2026-02-01", "the last day 2026-02-01 is before the first day"),
        ("from=2026-03-01", "bad date '': use YYYY-MM-DD"),
        ("from=2026-03-01&to=2026-03-02&person=ghost", "no person with uid 'ghost'"),
    ],
)
def test_bad_input_is_a_400_page_of_one_line_and_nothing_written(
    stack: Stack, query: str, line: str
) -> None:
    client = _inspector(stack)
    audited = sql(stack.url, "SELECT count(*) FROM audit_log WHERE action = 'register.export'")
    heads = stack.tmp / "state" / "register-heads.jsonl"
    kept = heads.read_bytes() if heads.exists() else b""
    status, headers, body = _download(client, f"/register/export?{query}")
    page = body.decode()
    assert status == 400 and headers["content-type"].startswith("text/html"), (status, page)
    message = page.split("<h1>400</h1>", 1)[1].split("</p>", 1)[0]
    assert line.replace("'", "&#39;") in message and "\n" not in message.strip().strip("<p>")
    assert "Traceback" not in page
    assert (
        sql(stack.url, "SELECT count(*) FROM audit_log WHERE action = 'register.export'") == audited
    )
    assert (heads.read_bytes() if heads.exists() else b"") == kept
