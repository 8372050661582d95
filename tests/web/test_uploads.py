"""Uploads from the web (issue 25 item 3, issue 24 item 6): people and timetable files
through `clock-gateway web` as a subprocess, checked whole, previewed, confirmed once,
audited; bodies bounded while they arrive, their temporary files off the state
directory. Files are made here (CSV as text, .xlsx with openpyxl)."""

from __future__ import annotations

import hashlib
import html
import http.client
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from gateway.importing.uploaded import PeoplePlan
from gateway.web.routes_uploads import PendingUploads
from tests.store.support import count, sql
from tests.support.wait import wait_until
from tests.web.client import Answer, Client
from tests.web.stack import ADMIN, PASSWORD, PEOPLE, Stack, start_stack

pytestmark = pytest.mark.e2e

HR, INSPECTOR, PW = "rrhh", "itss", "a good long password"
MAX_BYTES = 2 * 2**20  # over the form parser's 1 MB in memory: big files spill to disk
MAX_ROWS = 50
_TOKEN = re.compile(r'name="token" value="([^"]+)"')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-uploads")
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=0,
        web_only=True,
        web={
            "temp_dir": str(tmp / "web-tmp"),
            "upload_max_bytes": MAX_BYTES,
            "upload_max_rows": MAX_ROWS,
        },
        accounts=[
            (HR, PW, "hr", None),
            (INSPECTOR, PW, "inspector", datetime.now(UTC) + timedelta(days=30)),
        ],
    )
    try:
        yield stack
    finally:
        stack.close()


def signed_in(stack: Stack, name: str = HR, password: str = PW) -> Client:
    client = Client(stack.web.url)
    assert client.login(name, password, "/people").status == 303
    assert client.get("/uploads/people").status == 200  # this page's CSRF token
    return client


def token_of(answer: Answer) -> str:
    found = _TOKEN.search(answer.body)
    assert found is not None, answer.body[-3000:]
    return found.group(1)


def counts_of(answer: Answer) -> dict[str, int]:
    return {
        key: int(value)
        for key, value in re.findall(
            r'data-count="([a-z_]+)"><th scope="row">[^<]*</th><td class="num">(\d+)<', answer.body
        )
    }


def problems_of(answer: Answer) -> list[tuple[str, str, str]]:
    """(row, column, message) of each problem listed on the page."""
    section = answer.body.split('id="upload-problems"', 1)[1]
    rows = re.findall(
        r'<tr><td class="num">([^<]*)</td><td class="mono">([^<]*)</td><td>([^<]*)</td></tr>',
        section,
    )
    return [(r, c, html.unescape(m)) for r, c, m in rows]


def audit_rows(stack: Stack, action: str) -> list[dict[str, Any]]:
    rows = sql(
        stack.url, "SELECT actor, details FROM audit_log WHERE action = ? ORDER BY id", (action,)
    )
    return [{"actor": actor, **json.loads(details)} for actor, details in rows]


def xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- people ----------------------------------------------------------------------
GOOD_PEOPLE = (
    "uid,name,card_key\n"
    "rosa.diaz,Rosa Díaz,04AA0001\n"
    "tomas.vera,Tomás Vera,\n"
    "ana.garcia,Ana García,04A1B2C3\n"  # already here with that card: unchanged
    "marta.ruiz,Marta Ruiz,04AA0002\n"  # here, without a card: gets one
)


def test_a_people_file_with_one_bad_row_is_refused_whole(stack: Stack) -> None:
    client = signed_in(stack)
    people_before, audit_before = count(stack.url, "people"), count(stack.url, "audit_log")
    bad = GOOD_PEOPLE + "nuevo.uno,,04AA0003\n"  # line 6: no name
    answer = client.post_file("/uploads/people", "personal.csv", bad.encode())
    assert answer.status == 400
    assert problems_of(answer) == [("6", "name", "name must not be empty")]
    assert 'name="token"' not in answer.body and "/uploads/people/confirm" not in answer.body
    assert count(stack.url, "people") == people_before
    assert count(stack.url, "audit_log") == audit_before


def test_every_problem_is_listed_with_its_row_and_column(stack: Stack) -> None:
    client = signed_in(stack)
    bad = (
        "uid,name,card_key\n"
        "ana.garcia,Ana Otra,\n"  # here under another name
        "x y,Bad Uid,\n"  # a uid with a space
        "pepe,Pepe,04A1B2C3\n"  # Ana's card
        "lola,Lola,zz\n"  # not a card key
    )
    answer = client.post_file("/uploads/people", "p.csv", bad.encode())
    assert answer.status == 400
    found = problems_of(answer)
    assert [(row, column) for row, column, _ in found] == [
        ("2", "uid"),
        ("3", "uid"),
        ("4", "card_key"),
        ("5", "card_key"),
    ], found
    assert "already exists with name 'Ana García'" in found[0][2]
    assert "held by ana.garcia" in found[2][2]


def test_a_clean_people_file_is_previewed_then_applied_once_and_audited(stack: Stack) -> None:
    client = signed_in(stack)
    content = GOOD_PEOPLE.encode()
    people_before = count(stack.url, "people")
    preview = client.post_file("/uploads/people", "personal.csv", content)
    assert preview.status == 200
    assert counts_of(preview) == {
        "rows": 4,
        "people_added": 2,
        "people_unchanged": 2,
        "cards_assigned": 2,
        "cards_unchanged": 1,
    }
    added = preview.body.split('id="preview-added"', 1)[1].split("</section>", 1)[0]
    assert "rosa.diaz" in added and "Tomás Vera" in added and "ana.garcia" not in added
    cards = preview.body.split('id="preview-cards"', 1)[1].split("</section>", 1)[0]
    assert "04AA0001" in cards and "04AA0002" in cards and "04A1B2C3" not in cards
    sha = hashlib.sha256(content).hexdigest()
    assert sha in preview.body
    assert count(stack.url, "people") == people_before  # nothing yet

    token = token_of(preview)
    done = client.post("/uploads/people/confirm", {"token": token, "sha256": sha})
    assert done.status == 303 and done.location == "/people"
    assert count(stack.url, "people") == people_before + 2
    assert sql(
        stack.url,
        "SELECT card_key, person_uid FROM cards WHERE card_key IN ('04AA0001', '04AA0002') "
        "AND revoked_at IS NULL ORDER BY card_key",
    ) == [("04AA0001", "rosa.diaz"), ("04AA0002", "marta.ruiz")]
    [audit] = audit_rows(stack, "people.upload")
    assert audit == {
        "actor": HR,
        "file": "personal.csv",
        "sha256": sha,
        "bytes": len(content),
        "rows": 4,
        "people_added": 2,
        "people_unchanged": 2,
        "cards_assigned": 2,
        "cards_unchanged": 1,
    }
    page = client.get("/people")
    assert "Rosa Díaz" in page.body and "personal.csv" in page.body  # the flash

    again = client.post("/uploads/people/confirm", {"token": token, "sha256": sha})
    assert again.status == 409 and 'id="upload-stale"' in again.body
    assert count(stack.url, "people") == people_before + 2
    assert len(audit_rows(stack, "people.upload")) == 1


def test_an_xlsx_people_file_is_checked_the_same_way(stack: Stack) -> None:
    client = signed_in(stack)
    header = ["uid", "nombre", "tarjeta"]
    bad = xlsx(
        [header, ["celia.mora", "Celia Mora", "04AA0010"], ["dani.paz", "Dani Paz", "nokey"]]
    )
    refused = client.post_file("/uploads/people", "personal.xlsx", bad)
    assert refused.status == 400
    [(row, column, message)] = problems_of(refused)
    assert (row, column) == ("3", "card_key") and "nokey" in message
    assert sql(stack.url, "SELECT count(*) FROM people WHERE uid = 'celia.mora'") == [(0,)]

    good = xlsx([header, ["celia.mora", "Celia Mora", "04AA0010"], ["dani.paz", "Dani Paz", None]])
    preview = client.post_file("/uploads/people", "personal.xlsx", good)
    assert preview.status == 200
    assert counts_of(preview)["people_added"] == 2 and counts_of(preview)["cards_assigned"] == 1
    sha = hashlib.sha256(good).hexdigest()
    done = client.post("/uploads/people/confirm", {"token": token_of(preview), "sha256": sha})
    assert done.status == 303
    assert sql(stack.url, "SELECT name FROM people WHERE uid IN ('celia.mora', 'dani.paz')") == [
        ("Celia Mora",),
        ("Dani Paz",),
    ]


def test_a_confirm_for_another_file_or_account_is_refused(stack: Stack) -> None:
    client = signed_in(stack)
    content = b"uid,name\nfede.rey,Fede Rey\n"
    preview = client.post_file("/uploads/people", "f.csv", content)
    token = token_of(preview)
    sha = hashlib.sha256(content).hexdigest()
    admin = signed_in(stack, ADMIN, PASSWORD)
    other = admin.post("/uploads/people/confirm", {"token": token, "sha256": sha})
    assert other.status == 409  # another account's preview: not theirs to confirm
    wrong = client.post("/uploads/people/confirm", {"token": token, "sha256": "0" * 64})
    assert wrong.status == 409  # another file's checksum: refused, and the preview spent
    right = client.post("/uploads/people/confirm", {"token": token, "sha256": sha})
    assert right.status == 409
    assert sql(stack.url, "SELECT count(*) FROM people WHERE uid = 'fede.rey'") == [(0,)]


def test_a_change_between_preview_and_confirm_refuses_the_confirm(stack: Stack) -> None:
    client = signed_in(stack)
    content = b"uid,name,card_key\ngema.sol,Gema Sol,04AA0020\n"
    preview = client.post_file("/uploads/people", "g.csv", content)
    token = token_of(preview)
    admin = signed_in(stack, ADMIN, PASSWORD)
    admin.get("/people")
    assert admin.post("/cards/assign", {"card": "04AA0020", "uid": "nuria.blanco"}).status == 303
    done = client.post(
        "/uploads/people/confirm", {"token": token, "sha256": hashlib.sha256(content).hexdigest()}
    )
    assert done.status == 409 and "changed since the preview" in done.body
    assert sql(stack.url, "SELECT count(*) FROM people WHERE uid = 'gema.sol'") == [(0,)]


def test_more_rows_than_the_limit_is_one_problem(stack: Stack) -> None:
    client = signed_in(stack)
    lines = "".join(f"p{i},Person {i}\n" for i in range(MAX_ROWS + 10))
    answer = client.post_file("/uploads/people", "many.csv", f"uid,name\n{lines}".encode())
    assert answer.status == 400
    assert problems_of(answer) == [
        (
            str(MAX_ROWS + 2),
            "—",
            f"more than {MAX_ROWS} rows; at most {MAX_ROWS} are read (split the file)",
        )
    ]
    sheet = xlsx([["uid", "name"], *[[f"p{i}", f"Person {i}"] for i in range(MAX_ROWS + 10)]])
    answer = client.post_file("/uploads/people", "many.xlsx", sheet)
    assert answer.status == 400
    [(row, _column, message)] = problems_of(answer)
    # Refused while the sheet's XML is scanned, before openpyxl reads a row.
    assert row == "—" and f"at most {MAX_ROWS + 1} rows are read" in message
    assert "many.xlsx" in message and "/tmp" not in message and "upload-" not in message


def test_a_file_of_another_kind_is_refused(stack: Stack) -> None:
    client = signed_in(stack)
    answer = client.post_file("/uploads/people", "people.pdf", b"%PDF-1.4")
    assert answer.status == 400 and "not a .csv, .xlsx or .xls file" in answer.body
    answer = client.post_file(
        "/uploads/people", "people.csv", "uid,name\nana,Añá\n".encode("latin-1")
    )
    assert answer.status == 400 and "not UTF-8" in answer.body
    broken = client.post_file("/uploads/timetable", "horario.xlsx", b"PK\x03\x04 not a zip")
    assert broken.status == 400
    [(row, _column, message)] = problems_of(broken)
    assert row == "—" and message.startswith("horario.xlsx: not a readable .xlsx file")
    empty = client.post("/uploads/people", {})
    assert empty.status == 303 and empty.location == "/uploads/people"


# -- the timetable -----------------------------------------------------------------
def test_a_long_timetable_previews_its_changes_and_replaces_those_peoples_rows(
    stack: Stack,
) -> None:
    client = signed_in(stack)
    before = sql(stack.url, "SELECT count(*) FROM timetable WHERE person_uid = 'raul.ortiz'")
    assert before == [(0,)]
    bad = (
        "uid,weekday,start,end,room\n"
        "raul.ortiz,1,08:00,14:00,Aula 1\n"
        "nadie,2,08:00,14:00,Aula 1\n"  # nobody with that uid
        "raul.ortiz,3,25:00,14:00,Aula 1\n"  # no such time
    )
    refused = client.post_file("/uploads/timetable", "horario.csv", bad.encode())
    assert refused.status == 400
    found = problems_of(refused)
    assert [(row, column) for row, column, _ in found] == [("3", "uid"), ("4", "start")], found
    assert sql(stack.url, "SELECT count(*) FROM timetable WHERE person_uid = 'raul.ortiz'") == [
        (0,)
    ]

    good = (
        "uid,weekday,start,end,room\n"
        "raul.ortiz,1,08:00,14:00,Aula 1\n"
        "raul.ortiz,2,08:00,14:00,Aula 2\n"
    )
    preview = client.post_file("/uploads/timetable", "horario.csv", good.encode())
    assert preview.status == 200
    assert counts_of(preview) == {
        "rows": 2,
        "people_in_file": 1,
        "people_added": 0,
        "people_changed": 1,
        "rows_added": 2,
        "rows_removed": 0,
    }
    sha = hashlib.sha256(good.encode()).hexdigest()
    done = client.post("/uploads/timetable/confirm", {"token": token_of(preview), "sha256": sha})
    assert done.status == 303
    assert sql(
        stack.url,
        "SELECT weekday, room FROM timetable WHERE person_uid = 'raul.ortiz' ORDER BY weekday",
    ) == [(1, "Aula 1"), (2, "Aula 2")]

    # Monday changes room, Tuesday goes: one added, two removed.
    moved = "uid,weekday,start,end,room\nraul.ortiz,1,08:00,14:00,Aula 9\n"
    preview = client.post_file("/uploads/timetable", "horario2.csv", moved.encode())
    assert counts_of(preview)["rows_added"] == 1 and counts_of(preview)["rows_removed"] == 2
    removed = preview.body.split('id="preview-rows_removed"', 1)[1].split("</section>", 1)[0]
    assert "Aula 1" in removed and "Aula 2" in removed
    sha = hashlib.sha256(moved.encode()).hexdigest()
    client.post("/uploads/timetable/confirm", {"token": token_of(preview), "sha256": sha})
    assert sql(
        stack.url, "SELECT weekday, room FROM timetable WHERE person_uid = 'raul.ortiz'"
    ) == [(1, "Aula 9")]
    [first, second] = audit_rows(stack, "timetable.upload")
    assert (first["file"], first["rows_added"], first["actor"]) == ("horario.csv", 2, HR)
    assert (second["rows_added"], second["rows_removed"]) == (1, 2)


def _grid(names: list[str]) -> bytes:
    """The original's sheet: weekdays over slot blocks in row 1, slot times in row 2,
    one person per row with an activity in some slots."""
    rows: list[list[Any]] = [
        ["", "Lunes", "", "Martes", ""],
        ["", "8:15\n9:15", "9:15\n10:15", "8:15\n9:15", "9:15\n10:15"],
    ]
    for i, name in enumerate(names):
        rows.append([name, f"Matemáticas\n1ESOA\nAula {i}", None, None, f"Inglés\n2ESOB\nAula {i}"])
    return xlsx(rows)


def test_a_grid_sheet_creates_the_people_it_names_when_asked(stack: Stack) -> None:
    client = signed_in(stack)
    sheet = _grid(["Pérez Gil, Noa (NPG)", "Eva Martín"])
    refused = client.post_file("/uploads/timetable", "rejilla.xlsx", sheet)
    assert refused.status == 400
    [(row, _column, message)] = problems_of(refused)
    assert row == "3" and "no person named" in message
    preview = client.post_file("/uploads/timetable", "rejilla.xlsx", sheet, {"create_people": "1"})
    assert preview.status == 200
    counts = counts_of(preview)
    assert (counts["people_added"], counts["rows"], counts["people_in_file"]) == (1, 4, 2)
    assert "noa.perez.gil" in preview.body.split('id="preview-created"', 1)[1]
    sha = hashlib.sha256(sheet).hexdigest()
    done = client.post("/uploads/timetable/confirm", {"token": token_of(preview), "sha256": sha})
    assert done.status == 303
    assert sql(stack.url, "SELECT name FROM people WHERE uid = 'noa.perez.gil'") == [
        ("Pérez Gil, Noa (NPG)",)
    ]
    assert sql(
        stack.url,
        "SELECT count(*) FROM timetable WHERE person_uid IN ('noa.perez.gil', 'eva.martin')",
    ) == [(4,)]


# -- who may, and how much ---------------------------------------------------------
def test_an_inspector_may_not_upload_and_nothing_is_read(stack: Stack) -> None:
    client = Client(stack.web.url)
    client.login(INSPECTOR, PW, "/people")
    client.get("/people")
    assert client.get("/uploads/people").status == 403
    assert client.get("/uploads/timetable").status == 403
    answer = client.post_file("/uploads/people", "p.csv", b"uid,name\nivan.sol,Ivan Sol\n")
    assert answer.status == 403
    assert client.post("/uploads/people/confirm", {"token": "x", "sha256": "y"}).status == 403
    assert sql(stack.url, "SELECT count(*) FROM people WHERE uid = 'ivan.sol'") == [(0,)]
    assert "/uploads/people" not in client.get("/people").body  # no link either


def test_an_upload_and_a_confirm_need_the_csrf_token(stack: Stack) -> None:
    client = signed_in(stack)
    content = b"uid,name\njulia.rey,Julia Rey\n"
    answer = client.post_file("/uploads/people", "j.csv", content, csrf=False)
    assert answer.status == 403
    preview = client.post_file("/uploads/people", "j.csv", content)
    token, sha = token_of(preview), hashlib.sha256(content).hexdigest()
    bare = client.request("POST", "/uploads/people/confirm", {"token": token, "sha256": sha})
    assert bare.status == 403
    assert sql(stack.url, "SELECT count(*) FROM people WHERE uid = 'julia.rey'") == [(0,)]
    # The refused confirm reached no handler: the preview is still there, once.
    assert client.post("/uploads/people/confirm", {"token": token, "sha256": sha}).status == 303
    assert sql(stack.url, "SELECT count(*) FROM people WHERE uid = 'julia.rey'") == [(1,)]


def test_a_too_big_file_gets_a_413_page_declared_or_not(stack: Stack) -> None:
    client = signed_in(stack)
    big = b"uid,name\n" + b"x" * (MAX_BYTES + 64 * 1024)
    answer = client.post_file("/uploads/people", "big.csv", big)
    assert answer.status == 413 and 'id="upload-refused"' in answer.body
    assert "2 MB" in answer.body
    # Without a Content-Length (chunked): refused as the bytes pass the limit.
    conn = http.client.HTTPConnection("127.0.0.1", stack.web.port, timeout=30)
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies())
    boundary = "chunkedboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{client.csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n\r\n'
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(MAX_BYTES // 65536 + 4):
            yield b"y" * 65536

    try:
        conn.request(
            "POST",
            "/uploads/people",
            body=body(),
            headers={
                "Cookie": cookie,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 413 and b'id="upload-refused"' in response.read()
    finally:
        conn.close()


def _fds_under(pid: int, folder: Path) -> list[str]:
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_a_large_upload_spools_to_the_web_temp_dir_not_the_state_dir(stack: Stack) -> None:
    """Half a 1.5 MB upload sent: the form parser has spilled it to a file, and that
    file is in [web] temp_dir (a different folder from the state directory)."""
    client = signed_in(stack)
    assert stack.web.proc is not None
    pid = stack.web.proc.pid
    temp_dir, state_dir = stack.tmp / "web-tmp", stack.tmp / "state"
    conn = http.client.HTTPConnection("127.0.0.1", stack.web.port, timeout=30)
    boundary = "spoolboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{client.csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
    ).encode()
    line = b"x" * 99_999 + b"\n"  # under the CSV field limit: one problem per line
    tail = f"\r\n--{boundary}--\r\n".encode()
    first, second = line * 12, line * 3
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies())
    try:
        conn.putrequest("POST", "/uploads/people")
        conn.putheader("Cookie", cookie)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + len(first) + len(second) + len(tail)))
        conn.endheaders()
        conn.send(head + first)
        spooled = wait_until(lambda: _fds_under(pid, temp_dir), 10, "a spool file in temp_dir")
        assert spooled and not _fds_under(pid, state_dir)
        conn.send(second + tail)
        response = conn.getresponse()
        page = response.read().decode()
        assert response.status == 400 and "expected uid,name" in page
    finally:
        conn.close()
    wait_until(lambda: not _fds_under(pid, temp_dir), 10, "the spool file closed")
    assert not list(temp_dir.iterdir())  # nothing left behind


# -- the previews kept between upload and confirm ------------------------------------
def test_a_preview_expires_and_is_taken_once() -> None:
    now = [1000.0]
    pending = PendingUploads(60.0, clock=lambda: now[0])
    plan = PeoplePlan([], [], [])
    token = pending.put("people", "rrhh", "a.csv", "ab" * 32, 10, plan)
    assert pending.take(token, "timetable", "rrhh", "ab" * 32) is None  # another kind
    assert pending.take(token, "people", "other", "ab" * 32) is None  # another account
    found = pending.take(token, "people", "rrhh", "ab" * 32)
    assert found is not None and found.plan is plan
    assert pending.take(token, "people", "rrhh", "ab" * 32) is None  # taken once
    late = pending.put("people", "rrhh", "a.csv", "ab" * 32, 10, plan)
    now[0] += 60.0
    assert pending.take(late, "people", "rrhh", "ab" * 32) is None  # expired
    for i in range(40):
        pending.put("people", "rrhh", f"{i}.csv", "ab" * 32, 10, plan)
    assert len(pending) == 32  # the oldest went first


def test_nothing_here_touched_what_the_stack_seeded(stack: Stack) -> None:
    """The seeded people are all still there, with their names (no import renames)."""
    names = dict(sql(stack.url, "SELECT uid, name FROM people"))
    for uid, name, _card, _room in PEOPLE:
        assert names[uid] == name


# -- slow bodies, and how many at once ---------------------------------------------
SLOW_S = 6.0


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-uploads-slow")
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=0,
        web_only=True,
        web={"temp_dir": str(tmp / "web-tmp"), "upload_timeout_s": SLOW_S},
        accounts=[(HR, PW, "hr", None)],
    )
    try:
        yield stack
    finally:
        stack.close()


def _start_upload(
    stack: Stack, client: Client, sent: bytes, total: int
) -> http.client.HTTPConnection:
    """An upload whose headers promise `total` bytes of body, of which `sent` go now."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.web.port, timeout=30)
    conn.putrequest("POST", "/uploads/people")
    conn.putheader("Cookie", "; ".join(f"{c.name}={c.value}" for c in client.cookies()))
    conn.putheader("Content-Type", "multipart/form-data; boundary=slowboundary")
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    conn.send(sent)
    return conn


def _slow_head(client: Client) -> bytes:
    return (
        f'--slowboundary\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{client.csrf}\r\n'
        '--slowboundary\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
        "uid,name\n"
    ).encode()


def test_an_upload_that_does_not_arrive_in_time_gets_a_408_page(slow_stack: Stack) -> None:
    client = signed_in(slow_stack)
    head = _slow_head(client)
    conn = _start_upload(slow_stack, client, head, len(head) + 10_000)  # and no more
    try:
        response = conn.getresponse()  # the server's deadline ends the wait
        page = response.read().decode()
    finally:
        conn.close()
    assert response.status == 408 and 'id="upload-refused"' in page
    assert f"{SLOW_S:g} s" in page
    assert sql(slow_stack.url, "SELECT count(*) FROM audit_log WHERE action = 'people.upload'") == [
        (0,)
    ]


def test_at_most_four_uploads_are_read_at_once(slow_stack: Stack) -> None:
    client = signed_in(slow_stack)
    head = _slow_head(client)
    held = [_start_upload(slow_stack, client, head, len(head) + 10_000) for _ in range(4)]
    try:
        fifth = wait_until(
            lambda: (
                (a := client.post_file("/uploads/people", "x.csv", b"uid,name\n")).status == 503
                and a
            ),
            SLOW_S - 0.5,
            "a fifth upload refused while four are being read",
        )
        assert fifth and "other uploads in progress" in fifth.body
        for conn in held:  # each ends at its deadline, with its page
            assert conn.getresponse().status == 408
    finally:
        for conn in held:
            conn.close()
    assert client.post_file("/uploads/people", "x.csv", b"uid,name\n").status == 400  # free again
