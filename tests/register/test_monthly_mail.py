"""`clock-gateway register monthly --mail` as a subprocess (issue 22 item 7): each
worker with a mail address gets their own summary's PDF, through a real SMTP server
that requires STARTTLS and AUTH; a worker without one is named; without [mail], one
line and nothing written."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from bench.kit.harness import REPO_ROOT, write_config
from gateway.config.mail import ENV_MAIL_PASSWORD
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from gateway.web.security import hash_password
from tests.reports.helpers import MADRID, clock
from tests.support.smtp import PASSWORD, USER, SmtpServer, smtp_server

CLI = Actor("cli:test")
MONTH = "2026-11"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as running:
        yield running


async def _seed(url: str) -> None:
    stores = Stores.open(url)
    try:
        await stores.db.init_schema()
        day = datetime.combine(datetime(2026, 11, 2).date(), time(0), MADRID)  # a Monday
        for uid, name in (("ana", "Ana García"), ("bob", "Bob Ruiz")):
            await stores.lifecycle.add_person(uid, name, CLI)
        await stores.swipes.record_events(
            [
                clock("ana", "in", day + timedelta(hours=8)),
                clock("ana", "out", day + timedelta(hours=15)),
                clock("bob", "in", day + timedelta(hours=9)),
                clock("bob", "out", day + timedelta(hours=14)),
            ]
        )
        await stores.accounts.add_worker("ana@example.org", "ana", hash_password("x" * 12), CLI)
    finally:
        await stores.close()


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "register", "monthly", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), ENV_MAIL_PASSWORD: PASSWORD},
        check=False,
    )


def _config(tmp_path: Path, url: str, mail: str) -> Path:
    return write_config(
        tmp_path / "c.toml",
        database_url=url,
        state_dir=tmp_path,
        gateway={"timezone": "Europe/Madrid"},
        extra=mail,
    )


def test_each_worker_gets_their_own_pdf(tmp_path: Path, server: SmtpServer) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    asyncio.run(_seed(url))
    mail = (
        f'\n[mail]\nhost = "{server.host}"\nport = {server.port}\nstarttls = true\n'
        f'username = "{USER}"\nfrom = "Registro <{USER}>"\nca_file = "{server.cert}"\n'
        "timeout_s = 20\n"
    )
    config = _config(tmp_path, url, mail)
    before = len(server.inbox.messages)
    done = _run(config, "--month", MONTH, "--out", str(tmp_path / "out"), "--mail", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["mailed"] == ["ana@example.org"] and outcome["no_address"] == ["bob"]
    got = server.inbox.wait_for(before + 1)[before:]
    assert len(got) == 1 and got[0]["To"] == "ana@example.org"
    assert MONTH in got[0]["Subject"]
    pdfs = [
        part for part in got[0].iter_attachments() if part.get_content_type() == "application/pdf"
    ]
    assert len(pdfs) == 1
    data = pdfs[0].get_content()
    assert data == (tmp_path / "out" / f"{MONTH}_ana.pdf").read_bytes()
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, timeout=60, check=True
    ).stdout.decode()
    assert "Ana García" in text and "Bob Ruiz" not in text
    # The mail sent left its audit row: whom, which month, what came of it.
    assert asyncio.run(_mail_audit(url)) == [
        ("ana", {"month": MONTH, "to": "ana@example.org", "outcome": "sent", "error": None})
    ]


async def _mail_audit(url: str) -> list[tuple[str | None, dict[str, object]]]:
    stores = Stores.open(url)
    try:
        rows = await stores.audit.recent(action="register.monthly.mail")
        return [(r.target, r.details) for r in rows]
    finally:
        await stores.close()


def test_a_mail_that_fails_is_audited_too(tmp_path: Path, server: SmtpServer) -> None:
    """The server refuses the login (a wrong password): nothing mailed, exit 1, and the
    audit names the worker whose mail failed and why."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    asyncio.run(_seed(url))
    mail = (
        f'\n[mail]\nhost = "{server.host}"\nport = {server.port}\nstarttls = true\n'
        f'username = "{USER}"\nfrom = "Registro <{USER}>"\nca_file = "{server.cert}"\n'
        "timeout_s = 20\n"
    )
    config = _config(tmp_path, url, mail)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "register",
            "monthly",
            "--month",
            MONTH,
            "--out",
            str(tmp_path / "out"),
            "--mail",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), ENV_MAIL_PASSWORD: "not the password"},
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    [(target, details)] = asyncio.run(_mail_audit(url))
    assert target == "ana" and details["outcome"] == "failed" and details["error"]
    assert details["to"] == "ana@example.org" and details["month"] == MONTH


def test_mail_without_a_mail_section_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    asyncio.run(_seed(url))
    done = _run(
        _config(tmp_path, url, ""), "--month", MONTH, "--out", str(tmp_path / "out"), "--mail"
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].endswith("--mail needs a [mail] section with a host (docs/REGISTER.md)")
    assert not (tmp_path / "out").exists()
