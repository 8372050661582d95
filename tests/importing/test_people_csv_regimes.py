"""`users import` with working regimes (issue 22 item 1): optional regime columns, every
problem listed with its line before anything is written, and a second run adds nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from gateway.errors import ExitCode
from gateway.importing.people_csv import RegimeRow, parse_people_csv, parse_people_file
from gateway.store.regimes import Terms
from tests.store.support import sql
from tests.store.test_upgrade import Cli

GOOD = (
    "uid,nombre,jornada,porcentaje,horas_semanales,modalidad,desde,horas_extra\n"
    "bea,Bea,parcial,50,,presencial,2026-11-01,descanso\n"
    "carl,Carl,completa,,,teletrabajo,2026-11-01,\n"
    "dan,Dan,,,,,,\n"
    "eva,Eva,part_time,,15,mixed,2026-12-01,paid\n"
)


def test_regime_columns_in_english_or_spanish() -> None:
    parsed = parse_people_file(GOOD, full_week_minutes=2400)
    assert parsed.problems == []
    assert [r.uid for r in parsed.rows] == ["bea", "carl", "dan", "eva"]
    assert parsed.regimes == [
        RegimeRow(2, "bea", date(2026, 11, 1), Terms("part_time", 1200, 50, "on_site", "rest")),
        RegimeRow(3, "carl", date(2026, 11, 1), Terms("full_time", 2400, None, "remote", "paid")),
        # 15 h of a 40 h week: the percentage shown is worked out from the hours.
        RegimeRow(5, "eva", date(2026, 12, 1), Terms("part_time", 900, 38, "mixed", "paid")),
    ]
    # The old reader still reads the people of such a file.
    rows, problems = parse_people_csv(GOOD)
    assert problems == [] and len(rows) == 4


def test_every_bad_regime_cell_is_named_with_its_line() -> None:
    text = (
        "uid,name,regime,part_time_percent,weekly_hours,place,regime_from,overtime\n"
        "a,A,part,,,on_site,2026-11-01,\n"
        "b,B,full,50,,on_site,2026-11-01,\n"
        "c,C,part,50,,moon,2026-11-01,\n"
        "d,D,part,50,,on_site,,\n"
        "e,E,full,,,on_site,2026-02-30,\n"
        "f,F,part,100,,on_site,2026-11-01,\n"
        "g,G,part,50,,on_site,2026-11-01,cash\n"
        "h,H,freelance,,,on_site,2026-11-01,\n"
        "i,I,part,12.5,,on_site,2026-11-01,\n"
        "j,J,full,,nan,on_site,2026-11-01,\n"
        "k,K,full,,,,2026-11-01,\n"
        "l,L,part,50,,on_site,2026-11-01,\n"
    )
    parsed = parse_people_file(text)
    lines = [int(p.split(":")[0].removeprefix("line ")) for p in parsed.problems]
    assert lines == list(range(2, 13)), parsed.problems
    assert all(len(p.splitlines()) == 1 for p in parsed.problems)
    assert [r.uid for r in parsed.regimes] == ["l"]


def test_users_import_writes_the_regimes_once_and_nothing_when_a_row_is_bad(
    db_url: str, tmp_path: Path
) -> None:
    cli = Cli(tmp_path, db_url)
    cli("db", "init")
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "zoe,Zoe,parcial,50,,presencial,2026-13-01,\n", encoding="utf-8")
    process = cli.start("users", "import", str(bad))
    _, err = process.communicate(timeout=120)
    assert process.returncode == ExitCode.BAD_INPUT and "Traceback" not in err
    # Each bad row named on stderr, then the one-line summary.
    assert err.splitlines()[0].endswith(
        "line 6: regime_from must be a date YYYY-MM-DD, got '2026-13-01'"
    )
    assert err.splitlines()[-1].endswith("1 bad row(s); nothing was imported")
    assert sql(db_url, "SELECT count(*) FROM people") == [(0,)]
    assert sql(db_url, "SELECT count(*) FROM work_regimes") == [(0,)]

    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    out, _ = cli("users", "import", str(good), "--dry-run")
    assert "3 regime(s) set (dry run" in out
    assert sql(db_url, "SELECT count(*) FROM work_regimes") == [(0,)]
    out, _ = cli("users", "import", str(good))
    assert "4 added, 0 card(s) assigned, 3 regime(s) set" in out
    assert sql(
        db_url,
        "SELECT person_uid, kind, weekly_minutes, part_time_percent, place, overtime_default "
        "FROM work_regimes ORDER BY id",
    ) == [
        ("bea", "part_time", 1200, 50, "on_site", "rest"),
        ("carl", "full_time", 2400, None, "remote", "paid"),
        ("eva", "part_time", 900, 38, "mixed", "paid"),
    ]
    out, _ = cli("users", "import", str(good), "--json")
    assert json.loads(out)["regimes"] == 0  # the same regimes again: nothing added
    assert sql(db_url, "SELECT count(*) FROM work_regimes") == [(3,)]
    assert sql(db_url, "SELECT count(*) FROM audit_log WHERE action = 'regime.set'") == [(3,)]
