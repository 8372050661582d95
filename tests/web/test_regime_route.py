"""POST /people/regime (issue 22 item 1): hr sets a person's regime from the web, with
its CSRF token and an audit row; bad values are refused with nothing written; other
roles are refused (and audited); the way back stays on the people pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.support import sql
from tests.web.client import Client
from tests.web.stack import Stack, start_stack

pytestmark = pytest.mark.e2e

PW = "a good long password"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("web-regime")
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=0,
        web_only=True,
        accounts=[("rrhh", PW, "hr", None), ("comite", PW, "representative", None)],
    )
    try:
        yield stack
    finally:
        stack.close()


def _regimes(stack: Stack) -> list[tuple[object, ...]]:
    return sql(
        stack.url,
        "SELECT person_uid, valid_from, kind, weekly_minutes, part_time_percent, place, "
        "overtime_default, created_by FROM work_regimes ORDER BY id",
    )


def test_hr_sets_a_regime_and_it_is_audited(stack: Stack) -> None:
    hr = Client(stack.web.url)
    assert hr.login("rrhh", PW).status == 303
    hr.get("/people")
    form = {
        "uid": "eva.martin",
        "valid_from": "2026-11-01",
        "kind": "part_time",
        "part_time_percent": "50",
        "weekly_hours": "",
        "place": "on_site",
        "overtime": "rest",
        "back": "/people/eva.martin",
    }
    done = hr.post("/people/regime", form)
    assert done.status == 303 and done.location == "/people/eva.martin"
    assert [(r[0], str(r[1]), *r[2:]) for r in _regimes(stack)] == [
        ("eva.martin", "2026-11-01", "part_time", 1200, 50, "on_site", "rest", "rrhh")
    ]
    audit = sql(stack.url, "SELECT actor, target FROM audit_log WHERE action = 'regime.set'")
    assert audit == [("rrhh", "eva.martin")]

    # Bad values: refused with one line on the page, nothing written.
    for bad in (
        {"part_time_percent": "100"},
        {"part_time_percent": ""},
        {"place": "moon"},
        {"valid_from": "2026-02-30"},
        {"kind": "freelance"},
        {"weekly_hours": "nan"},
        {"uid": "ghost"},
    ):
        answer = hr.post("/people/regime", {**form, **bad, "back": "https://example.org/"})
        assert answer.status == 303 and answer.location == "/people", bad
    assert len(_regimes(stack)) == 1
    # Without the session's CSRF token: refused before the handler.
    hr.csrf = "not-the-token"
    assert hr.post("/people/regime", form).status == 403
    assert len(_regimes(stack)) == 1


def test_a_representative_is_refused_and_the_refusal_audited(stack: Stack) -> None:
    rep = Client(stack.web.url)
    assert rep.login("comite", PW, "/totals").status == 303
    rep.get("/totals")
    answer = rep.post("/people/regime", {"uid": "eva.martin", "valid_from": "2026-12-01"})
    assert answer.status == 403
    refused = sql(
        stack.url,
        "SELECT actor FROM audit_log WHERE action = 'access.refused' AND target = '/people/regime'",
    )
    assert refused == [("comite",)]
    assert sql(stack.url, "SELECT count(*) FROM work_regimes") == [(1,)]
