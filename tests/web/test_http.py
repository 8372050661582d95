"""`clock-gateway web` over plain HTTP (no browser): the board's token, the event
stream, the security headers, and the admin commands of the CLI."""

from __future__ import annotations

import contextlib
import http.client
import io
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from bench.kit.harness import run_cli, write_config
from gateway.cli.main import main
from tests.web.stack import Stack, free_port, start_stack

TOKEN = "tv-entrance-0123456789"


@pytest.fixture(scope="module")
def token_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-token")
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=0,
        web_only=True,
        web={"board_token": TOKEN},
    )
    try:
        yield stack
    finally:
        stack.close()


def get(url: str) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_board_needs_its_token_when_one_is_configured(token_stack: Stack) -> None:
    base = token_stack.web.url
    assert get(f"{base}/")[0] == 403
    assert get(f"{base}/?token=wrong-token-0123456789")[0] == 403
    assert get(f"{base}/events")[0] == 403
    status, headers, body = get(f"{base}/?token={TOKEN}")
    assert status == 200 and 'id="present"' in body
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["referrer-policy"] == "no-referrer"  # the token never leaks onwards
    # Nothing loaded from elsewhere: the board works on a LAN without internet.
    assert "http://" not in body.replace(base, "") and "https://" not in body


def test_the_session_cookie_is_signed_httponly_and_samesite(token_stack: Stack) -> None:
    status, headers, body = get(f"{token_stack.web.url}/login")
    assert status == 200 and 'name="csrf"' in body
    cookie = headers["set-cookie"].lower()
    assert cookie.startswith("clock_gateway_session=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def test_the_event_stream_starts_with_the_board(token_stack: Stack) -> None:
    host, port = "127.0.0.1", token_stack.web.port
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", f"/events?token={TOKEN}")
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    seen = b""
    deadline = time.monotonic() + 10
    while b"event: board" not in seen and time.monotonic() < deadline:
        seen += response.read1(4096)
    conn.close()
    assert seen.startswith(b"retry: ")
    assert b"event: board\ndata: {" in seen


def test_admin_pages_redirect_and_unknown_pages_are_404(token_stack: Stack) -> None:
    base = token_stack.web.url
    status, headers, _ = get(f"{base}/audit")
    assert status == 303 and headers["location"] == "/login?next=/audit"
    status, _, body = get(f"{base}/no/such/page")
    assert status == 404 and "Traceback" not in body
    # A logged-out POST goes to the login page too, and changes nothing.
    request = urllib.request.Request(f"{base}/people/add", data=b"uid=x&name=y", method="POST")
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 303


def test_the_web_command_says_plainly_what_is_wrong(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml",
        database_url=f"sqlite:///{tmp_path / 'missing' / 'none.db'}",
        state_dir=tmp_path / "state",
    )
    result = run_cli("web", "--config", str(config), "--port", str(free_port()), timeout=60)
    assert result.returncode == 6
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    busy = free_port()
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        result = run_cli("web", "--config", str(config), "--port", str(busy), timeout=60)
    assert result.returncode == 3 and "cannot listen" in result.stderr


def _cli(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in this process (a subprocess per command costs seconds of imports)."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        mock.patch.object(sys, "stdin", io.StringIO(stdin or "")),
    ):
        code = main([*args, "--config", str(config)])
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_admin_commands_of_the_cli(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.toml", database_url=f"sqlite:///{tmp_path / 'g.db'}", state_dir=tmp_path
    )
    assert _cli(config, "db", "init").returncode == 0
    added = _cli(config, "admins", "add", "hr", "--password-stdin", stdin="a long secret 1\n")
    assert added.returncode == 0, added.stderr
    assert "a long secret" not in added.stdout + added.stderr
    short = _cli(config, "admins", "add", "x", "--password-stdin", stdin="short\n")
    assert short.returncode == 7 and "at least" in short.stderr
    no_tty = _cli(config, "admins", "passwd", "hr")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    assert (
        _cli(
            config, "admins", "passwd", "hr", "--password-stdin", stdin="another one 22\n"
        ).returncode
        == 0
    )
    assert "hr" in _cli(config, "admins", "list").stdout

    assert _cli(config, "users", "add", "ana", "Ana García").returncode == 0
    assert _cli(config, "users", "rename", "ana", "Ana G.").returncode == 0
    assert _cli(config, "users", "deactivate", "ana").returncode == 0
    assert _cli(config, "users", "reactivate", "ana").returncode == 0
    fix = _cli(
        config,
        "corrections",
        "add",
        "ana",
        "in",
        "--at",
        "2026-11-23 08:00",
        "--reason",
        "sin tarjeta",
    )
    assert fix.returncode == 0, fix.stderr
    assert "sin tarjeta" in _cli(config, "corrections", "list").stdout
    assert _cli(config, "corrections", "void", "999", "--reason", "x").returncode == 4
    assert _cli(config, "users", "erase", "ana").returncode == 2  # not confirmed
    erased = _cli(config, "users", "erase", "ana", "--yes")
    assert erased.returncode == 0 and "kept the register" in erased.stdout
    assert _cli(config, "events", "purge", "--older-than", "3").returncode == 7
    purge = _cli(config, "events", "purge")
    assert purge.returncode == 0 and "deleted 0 event(s)" in purge.stdout

    audit = _cli(config, "admins", "remove", "hr")
    assert audit.returncode == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "g.db") as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == [
        "account.add",
        "account.passwd",
        "person.add",
        "person.rename",
        "person.deactivate",
        "person.reactivate",
        "correction.add",
        "person.erase",
        "events.purge",
        "account.remove",
    ]


def test_demo_web_serves_the_board_until_ctrl_c() -> None:
    import os
    import signal

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--web", "--port", str(port), "--pause", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "the live board:" in line:
                break
        assert any(f"http://127.0.0.1:{port}/" in line for line in lines), "".join(lines)
        status, _, body = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "Ana Garc" in body  # back for the afternoon: present
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def logged_in_opener(base: str, next_path: str) -> urllib.request.OpenerDirector:
    """An opener holding an admin's session cookie, logged in through the login form."""
    import http.cookiejar
    import re
    import urllib.parse

    from tests.web.stack import ADMIN, PASSWORD

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login", timeout=10) as page:
        found = re.search(r'name="csrf" value="([^"]+)"', page.read().decode())
    assert found is not None
    form = {"csrf": found.group(1), "username": ADMIN, "password": PASSWORD, "next": next_path}
    with opener.open(f"{base}/login", urllib.parse.urlencode(form).encode(), timeout=10) as done:
        assert done.url.endswith(next_path)
    return opener


def test_an_admin_downloads_the_month_report_as_csv_and_xlsx(token_stack: Stack) -> None:
    import zipfile

    base = token_stack.web.url
    opener = logged_in_opener(base, "/reports")
    with opener.open(f"{base}/reports/download?format=csv", timeout=30) as csv_file:
        assert csv_file.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv_file.headers["content-disposition"]
        body = csv_file.read()
    assert body.startswith(b"\xef\xbb\xbfkind;uid;name;")  # BOM, `;` for the es locale
    with opener.open(f"{base}/reports/download?format=xlsx&uid=ana.garcia", timeout=30) as xlsx:
        assert "spreadsheetml" in xlsx.headers["content-type"]
        data = xlsx.read()
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        assert "xl/worksheets/sheet1.xml" in book.namelist()


def test_the_readers_page_lists_the_fleet_table(token_stack: Stack) -> None:
    """The fleet comes through GatewayStore, as `status --all` reads it."""
    import asyncio
    from datetime import UTC, datetime

    from gateway.store.gateways import GatewayHeartbeat, GatewayReader
    from gateway.store.stores import Stores

    async def publish() -> None:
        stores = Stores.open(token_stack.url)
        try:
            await stores.gateways.publish(
                GatewayHeartbeat(
                    id="gw-aula-12",
                    version="9.9.9",
                    hostname="pi-aula-12",
                    started_at=datetime.now(UTC),
                    spool_depth=7,
                    readers=(GatewayReader("puerta", "in", "online"),),
                )
            )
        finally:
            await stores.close()

    asyncio.run(publish())
    opener = logged_in_opener(token_stack.web.url, "/readers")
    with opener.open(f"{token_stack.web.url}/readers", timeout=10) as page:
        body = page.read().decode()
    assert "gw-aula-12" in body and "pi-aula-12 9.9.9" in body
    assert "<td>7</td>" in body and "puerta: online" in body
