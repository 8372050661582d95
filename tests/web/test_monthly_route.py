"""GET /register/monthly (issue 22 item 7, the hr page): the month's summaries as one
zip of the files `register monthly` writes, each worker's PDF holding their name and
days; a bad month or an unknown uid is a 400 page with one line and no audit row; each
download is audited with who, month and person; a representative and a worker are
refused (403, audited) and an inspector is not (routes_monthly.py says why).

The picture docs/screenshots/monthly-summary.png is the first page of one of these
PDFs: CLOCK_GATEWAY_SCREENSHOTS=docs/screenshots (the `shots` fixture)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.store.stores import Stores
from tests.store.support import sql
from tests.web.client import Client
from tests.web.stack import ZONE, Stack, _event, start_stack

pytestmark = pytest.mark.e2e

PW = "a good long password"
MONTH = "2026-10"  # a month in the past, whatever day the test runs
WORKERS = {  # uid -> (name, card)
    "ana.garcia": ("Ana García", "04A1B2C3"),
    "luis.nunez": ("Luis Núñez", "04B2C3D4"),
    "eva.martin": ("Eva Martín", "04E1E2E3"),
}


# Ana works every weekday of October 2026 (22, across the DST change of the 25th): a
# whole month for the picture; the others on the 5th and the 6th.
ANA_DAYS = [d for d in range(1, 32) if datetime(2026, 10, d).isoweekday() <= 5]


async def _october(url: str) -> None:
    """Each working day 08:00-14:00 with a pause 11:00-11:20 (shifted k minutes)."""
    stores = Stores.open(url)
    try:
        events = []
        for k, (uid, (_name, card)) in enumerate(WORKERS.items()):
            for day in ANA_DAYS if uid == "ana.garcia" else [5, 6]:
                at = datetime(2026, 10, day, 8, k, tzinfo=ZONE)
                for direction, minutes in (("in", 0), ("out", 180), ("in", 200), ("out", 360)):
                    events.append(_event(uid, card, direction, at + timedelta(minutes=minutes)))
        await stores.swipes.record_events(events)
    finally:
        await stores.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("web-monthly")
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=0,
        web_only=True,
        accounts=[
            ("rrhh", PW, "hr", None),
            ("itss", PW, "inspector", datetime.now(ZONE) + timedelta(days=30)),
            ("comite", PW, "representative", None),
        ],
    )
    try:
        asyncio.run(_october(stack.url))
        yield stack
    finally:
        stack.close()


def _signed_in(stack: Stack, name: str) -> Client:
    client = Client(stack.web.url)
    assert client.login(name, PW, "/totals").status == 303
    return client


def _download(client: Client, query: str) -> tuple[int, dict[str, str], bytes]:
    """The raw bytes (Client decodes its bodies as text, and a zip is not); the
    headers by lower-case name."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(client.jar))
    with opener.open(f"{client.base}/register/monthly?{query}", timeout=60) as response:
        headers = {k.lower(): v for k, v in response.headers.items()}
        return response.status, headers, response.read()


def _pdf_text(data: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, timeout=60, check=True
    )
    return " ".join(done.stdout.decode("utf-8").split())


def _audit(stack: Stack) -> list[tuple[object, ...]]:
    return sql(
        stack.url,
        "SELECT actor, target, details FROM audit_log WHERE action = 'register.monthly' "
        "ORDER BY id",
    )


def test_hr_downloads_every_workers_summary(stack: Stack, shots: Path) -> None:
    hr = _signed_in(stack, "rrhh")

    def last_month() -> str:
        return f"{datetime.now(ZONE).date().replace(day=1) - timedelta(days=1):%Y-%m}"

    before = last_month()
    page = hr.get("/register/monthly")
    assert page.status == 200 and "Eva Martín" in page.body
    # Last month by default (read on both sides of the request: midnight may fall between).
    assert any(f'name="month" value="{m}"' in page.body for m in (before, last_month()))

    status, headers, body = _download(hr, f"month={MONTH}")
    assert status == 200 and headers["content-type"] == "application/zip"
    assert f'filename="monthly-{MONTH}.zip"' in headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == sorted(
        f"{MONTH}_{uid}.{ext}" for uid in WORKERS for ext in ("pdf", "xlsx")
    )
    for k, (uid, (name, _card)) in enumerate(WORKERS.items()):
        text = _pdf_text(archive.read(f"{MONTH}_{uid}.pdf"))
        assert f"Trabajador(a) / Worker: {name} ({uid})" in text, text
        for day in ("05", "06"):
            row = f"2026-10-{day} | 08:{k:02d} | 14:{k:02d} | 11:{k:02d}-11:{20 + k:02d} | 5:40"
            assert row in text, (row, text)
        days = len(ANA_DAYS) if uid == "ana.garcia" else 2
        net = days * (5 * 60 + 40)
        assert f"Neto / Net: {net // 60}:{net % 60:02d}" in text, text
    assert _audit(stack)[-1][:2] == ("rrhh", None)
    assert json.loads(str(_audit(stack)[-1][2])) == {"month": MONTH, "person": None, "workers": 3}

    # One person: only their files, and the audit row names them.
    _, headers, body = _download(hr, f"month={MONTH}&uid=eva.martin")
    assert zipfile.ZipFile(io.BytesIO(body)).namelist() == [
        f"{MONTH}_eva.martin.pdf",
        f"{MONTH}_eva.martin.xlsx",
    ]
    assert f'filename="monthly-{MONTH}-{MONTH}_eva.martin.zip"' in headers["content-disposition"]
    actor, target, details = _audit(stack)[-1]
    assert (actor, target) == ("rrhh", "eva.martin")
    assert json.loads(str(details))["person"] == "eva.martin"

    # The picture of a summary page for docs/.
    pdf = shots / "monthly-summary.pdf"
    pdf.write_bytes(archive.read(f"{MONTH}_ana.garcia.pdf"))
    png = shots / "monthly-summary"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(png)],
        check=True,
        timeout=60,
    )
    pdf.unlink()
    assert png.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_month_or_person_is_one_line_and_nothing_audited(stack: Stack) -> None:
    hr = _signed_in(stack, "rrhh")
    before = len(_audit(stack))
    for query, line in (
        ("month=2026-13", "must be YYYY-MM"),
        ("month=oct", "must be YYYY-MM"),
        ("month=", "must be YYYY-MM"),
        (f"month={MONTH}&uid=ghost", "no person with uid"),
    ):
        answer = hr.get(f"/register/monthly?{query}")
        assert answer.status == 400 and line in answer.body, (query, answer.status)
        assert "Traceback" not in answer.body
    assert len(_audit(stack)) == before


def test_an_inspector_may_and_a_representative_may_not(stack: Stack) -> None:
    status, _, body = _download(_signed_in(stack, "itss"), f"month={MONTH}")
    assert status == 200 and len(zipfile.ZipFile(io.BytesIO(body)).namelist()) == 6
    assert _audit(stack)[-1][0] == "itss"

    refused = sql(stack.url, "SELECT count(*) FROM audit_log WHERE action = 'access.refused'")
    rep = _signed_in(stack, "comite")
    assert rep.get(f"/register/monthly?month={MONTH}").status == 403
    assert rep.get("/register/monthly").status == 403
    after = sql(stack.url, "SELECT count(*) FROM audit_log WHERE action = 'access.refused'")
    assert after[0][0] - refused[0][0] == 2
    assert _audit(stack)[-1][0] == "itss"  # the refusals downloaded nothing
