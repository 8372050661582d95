"""`clock-gateway register open-days --mail` as a subprocess (issue 22 item 4), against
a real SMTP server that requires STARTTLS and AUTH: yesterday's forgotten clock-out is
flagged once, its close proposed and left waiting for the worker, the worker mailed
once; a wrong SMTP password is one line without the secret, and the notice waits for
the next run."""

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
from gateway.store.models import TimetableEntry
from gateway.store.stores import Stores
from gateway.web.security import hash_password
from tests.reports.helpers import MADRID, clock
from tests.store.support import sql
from tests.support.smtp import PASSWORD, USER, SmtpServer, smtp_server

CLI = Actor("cli:test")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path_factory.mktemp("smtp")) as running:
        yield running


def _yesterday() -> datetime:
    return datetime.combine(datetime.now(MADRID).date() - timedelta(days=1), time(0), MADRID)


async def _seed(url: str) -> None:
    stores = Stores.open(url)
    try:
        await stores.db.init_schema()
        day = _yesterday()
        rows = []
        for uid, name in (("ana", "Ana García"), ("bob", "Bob Ruiz"), ("eva", "Eva Martín")):
            await stores.lifecycle.add_person(uid, name, CLI)
            rows.append(TimetableEntry(uid, day.isoweekday(), time(9), time(17)))
        await stores.timetable.replace_timetable(rows)
        await stores.swipes.record_events(
            [
                clock("ana", "in", day + timedelta(hours=8, minutes=55)),  # no out
                clock("bob", "in", day + timedelta(hours=9)),  # no out, no mail address
                clock("eva", "in", day + timedelta(hours=9)),
                clock("eva", "out", day + timedelta(hours=17, minutes=2)),  # closed
            ]
        )
        await stores.accounts.add_worker("ana@example.org", "ana", hash_password("x" * 12), CLI)
    finally:
        await stores.close()


def _run(config: Path, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "register", "open-days", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), ENV_MAIL_PASSWORD: password},
        check=False,
    )


def test_an_open_day_is_flagged_once_proposed_and_mailed_once(
    tmp_path: Path, server: SmtpServer
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    asyncio.run(_seed(url))
    mail = (
        f'\n[mail]\nhost = "{server.host}"\nport = {server.port}\nstarttls = true\n'
        f'username = "{USER}"\nfrom = "Registro <{USER}>"\nca_file = "{server.cert}"\n'
        'timeout_s = 20\n\n[register]\nopen_day_after = "2h"\n'
    )
    config = write_config(
        tmp_path / "c.toml",
        database_url=url,
        state_dir=tmp_path,
        gateway={"timezone": "Europe/Madrid"},
        messages={"locale": "es"},
        extra=mail,
    )
    before = len(server.inbox.messages)

    wrong = "not-the-Password-42"
    failed = _run(config, wrong, "--mail")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.strip().splitlines() == [
        f"mail: {server.host}:{server.port} refused the login of {USER!r} (wrong username "
        "or password); nothing was mailed, the next run tries again"
    ]
    assert wrong not in failed.stdout + failed.stderr
    assert "2 open day(s) newly flagged" in failed.stdout
    assert sql(url, "SELECT count(*) FROM open_day_notices WHERE mailed_at IS NULL") == [(2,)]

    done = _run(config, PASSWORD, "--mail", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["flagged"] == [] and outcome["mailed"] == ["ana@example.org"]
    assert outcome["no_address"] == ["bob"]
    got = server.inbox.wait_for(before + 1)[before:]
    assert len(got) == 1 and got[0]["To"] == "ana@example.org"
    day = _yesterday().date().isoformat()
    assert got[0]["Subject"] == f"Jornada del {day} sin salida registrada"
    assert "Ana García" in got[0].get_content() and "aceptes o lo rechaces" in got[0].get_content()

    # Flagged once, with its close proposed at the shift's end and waiting for Ana.
    notices = sql(
        url, "SELECT person_uid, day, mailed_at IS NOT NULL, correction_id FROM open_day_notices "
        "ORDER BY person_uid",
    )  # fmt: skip
    assert [(n[0], str(n[1]), n[2]) for n in notices] == [("ana", day, 1), ("bob", day, 0)]
    close = sql(
        url, "SELECT direction, at, created_by FROM corrections WHERE id = ?", (notices[0][3],)
    )
    assert close[0][0] == "out" and close[0][2].startswith("cli:")
    steps = sql(
        url, "SELECT step, side FROM correction_steps WHERE correction_id = ?", (notices[0][3],)
    )
    assert steps == [("proposed", "company")]  # nothing closed on its own

    again = _run(config, PASSWORD, "--mail")
    assert again.returncode == 0, again.stderr
    assert "0 open day(s) newly flagged" in again.stdout and "0 worker(s) mailed" in again.stdout
    assert len(server.inbox.messages) == before + 1
    assert sql(url, "SELECT count(*) FROM corrections") == [(2,)]
    assert sql(url, "SELECT count(*) FROM audit_log WHERE action = 'open_day.flag'") == [(2,)]


def test_mail_without_a_mail_section_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    asyncio.run(_seed(url))
    config = write_config(tmp_path / "c.toml", database_url=url, state_dir=tmp_path)
    done = _run(config, "", "--mail")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(
        "--mail needs a [mail] section with a host (docs/REGISTER.md)"
    )
