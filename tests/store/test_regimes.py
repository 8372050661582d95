"""Working regimes per person with history (issue 22 item 1): the store, the rule of
which regime is in force on a day, and `clock-gateway regime` as a person runs it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from gateway.errors import ConflictError, ExitCode, InvalidInputError, NotFoundError
from gateway.store.audit import Actor
from gateway.store.regimes import Terms, choice_for, in_force, terms
from tests.store.support import open_stores, sql
from tests.store.test_upgrade import Cli

HR = Actor("rrhh", "192.0.2.9")
FULL = 2400


def test_terms_from_what_a_person_types() -> None:
    half = terms(part_time_percent=50, weekly_hours=None, place="on_site", full_week_minutes=FULL)
    assert half == Terms("part_time", 1200, 50, "on_site", "paid")
    assert terms(
        part_time_percent=None,
        weekly_hours=37.5,
        place="remote",
        overtime="rest",
        full_week_minutes=FULL,
    ) == Terms("full_time", 2250, None, "remote", "rest")
    assert (
        terms(
            part_time_percent=60, weekly_hours=25, place="mixed", full_week_minutes=FULL
        ).weekly_minutes
        == 1500
    )
    for bad in (
        {"part_time_percent": 100, "weekly_hours": None, "place": "on_site"},
        {"part_time_percent": 0, "weekly_hours": None, "place": "on_site"},
        {"part_time_percent": 50, "weekly_hours": 40, "place": "on_site"},
        {"part_time_percent": None, "weekly_hours": 0.0, "place": "on_site"},
        {"part_time_percent": None, "weekly_hours": 169.0, "place": "on_site"},
        {"part_time_percent": None, "weekly_hours": None, "place": "moon"},
        {"part_time_percent": None, "weekly_hours": None, "place": "remote", "overtime": "cash"},
    ):
        with pytest.raises(InvalidInputError):
            terms(full_week_minutes=FULL, **bad)  # type: ignore[arg-type]


async def test_history_and_the_regime_in_force_each_day(db_url: str) -> None:
    half = Terms("part_time", 1200, 50, "on_site", "paid")
    full = Terms("full_time", 2400, None, "mixed", "rest")
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", HR)
        first = await stores.regimes.add("ana", date(2026, 11, 1), half, HR)
        assert first is not None
        assert await stores.regimes.add("ana", date(2026, 11, 1), half, HR) is None  # again
        second = await stores.regimes.add("ana", date(2027, 1, 1), full, HR)
        history = await stores.regimes.history("ana")
        assert [(r.id, r.valid_from, r.terms) for r in history] == [
            (first, date(2026, 11, 1), half),
            (second, date(2027, 1, 1), full),
        ]
        assert await stores.regimes.in_force("ana", date(2026, 10, 31)) is None
        assert (await stores.regimes.in_force("ana", date(2026, 12, 31))).id == first  # type: ignore[union-attr]
        assert (await stores.regimes.in_force("ana", date(2027, 1, 1))).id == second  # type: ignore[union-attr]
        # A mistake is put right by the right terms from the same date: the last added wins.
        fixed = await stores.regimes.add("ana", date(2027, 1, 1), half, HR)
        regime = await stores.regimes.in_force("ana", date(2027, 6, 1))
        assert regime is not None and regime.id == fixed and regime.terms == half
        assert len(await stores.regimes.history("ana")) == 3  # nothing replaced

        with pytest.raises(NotFoundError):
            await stores.regimes.add("ghost", date(2026, 11, 1), half, HR)
    audit = sql(db_url, "SELECT actor, action, target FROM audit_log WHERE action = 'regime.set'")
    assert audit == [("rrhh", "regime.set", "ana")] * 3


async def test_overtime_choices_the_newest_wins(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("bob", "Bob", HR)
        await stores.regimes.choose_overtime("bob", "2026-11", "rest", HR)
        await stores.regimes.choose_overtime("bob", "2026-11", "paid", HR)
        await stores.regimes.choose_overtime("bob", "2026-12", "rest", HR)
        with pytest.raises(InvalidInputError, match="YYYY-MM"):
            await stores.regimes.choose_overtime("bob", "2026-13", "rest", HR)
        with pytest.raises(InvalidInputError):
            await stores.regimes.choose_overtime("bob", "2026-11", "cash", HR)
        choices = (await stores.regimes.choices())["bob"]
        assert choice_for(choices, "2026-11", "rest") == "paid"
        assert choice_for(choices, "2026-12", "paid") == "rest"
        assert choice_for(choices, "2027-01", "rest") == "rest"  # the regime's default
    assert sql(db_url, "SELECT count(*) FROM audit_log WHERE action = 'overtime.choice'") == [(3,)]


def test_in_force_is_pure_and_ignores_later_regimes() -> None:
    assert in_force([], date(2026, 1, 1)) is None


async def test_an_erased_person_gets_no_regime(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("cy", "Cy", HR)
        await stores.lifecycle.erase("cy", HR)
        with pytest.raises(ConflictError, match="erased"):
            await stores.regimes.add(
                "cy", date(2026, 1, 1), Terms("full_time", 2400, None, "remote"), HR
            )


def test_the_regime_command(db_url: str, tmp_path: Path) -> None:
    cli = Cli(tmp_path, db_url)
    cli("db", "init")
    cli("users", "add", "ana", "Ana García")
    out, _ = cli(
        "regime", "set", "ana", "--from", "2026-11-01", "--part-time", "50", "--place", "on_site"
    )
    assert "part time 50 % (20 h/week), on_site" in out
    out, _ = cli(
        "regime",
        "set",
        "ana",
        "--from",
        "2027-01-01",
        "--full-time",
        "--weekly-hours",
        "37.5",
        "--place",
        "remote",
        "--overtime",
        "rest",
        "--json",
    )
    assert json.loads(out)["added"] is True
    out, _ = cli("regime", "show", "ana", "--json")
    shown = json.loads(out)
    assert [(r["valid_from"], r["kind"], r["weekly_minutes"], r["place"]) for r in shown] == [
        ("2026-11-01", "part_time", 1200, "on_site"),
        ("2027-01-01", "full_time", 2250, "remote"),
    ]
    out, _ = cli("regime", "show", "ana")
    assert "full time (37.5 h/week), remote, overtime rest" in out
    out, _ = cli("regime", "overtime", "ana", "--month", "2026-11", "rest")
    assert "rest" in out
    for args, code in (
        (
            ("regime", "set", "ghost", "--from", "2026-11-01", "--full-time", "--place", "remote"),
            ExitCode.NOT_FOUND,
        ),
        (
            ("regime", "set", "ana", "--from", "2026-02-30", "--full-time", "--place", "remote"),
            ExitCode.BAD_INPUT,
        ),
        (
            (
                "regime",
                "set",
                "ana",
                "--from",
                "2026-11-01",
                "--part-time",
                "50",
                "--weekly-hours",
                "45",
                "--place",
                "remote",
            ),
            ExitCode.BAD_INPUT,
        ),
        (("regime", "overtime", "ana", "--month", "11-2026", "rest"), ExitCode.BAD_INPUT),
    ):
        cli(*args, code=code)
    for args in (
        ("regime", "set", "ana", "--from", "2026-11-01", "--part-time", "100", "--place", "remote"),
        (
            "regime",
            "set",
            "ana",
            "--from",
            "2026-11-01",
            "--full-time",
            "--weekly-hours",
            "nan",
            "--place",
            "remote",
        ),
        (
            "regime",
            "set",
            "ana",
            "--from",
            "2026-11-01",
            "--full-time",
            "--part-time",
            "50",
            "--place",
            "remote",
        ),
        ("regime", "set", "ana", "--from", "2026-11-01", "--full-time", "--place", "moon"),
    ):
        process = cli.start(*args)
        _, err = process.communicate(timeout=60)
        assert process.returncode == ExitCode.USAGE and "Traceback" not in err, (args, err)
    assert sql(db_url, "SELECT count(*) FROM work_regimes") == [(2,)]
    assert sql(db_url, "SELECT count(*) FROM overtime_choices") == [(1,)]
