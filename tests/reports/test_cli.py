"""The report commands as a person runs them: real subprocesses on a real database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.errors import ExitCode
from tests.reports.helpers import clock, local, seeded

ROOT = Path(__file__).resolve().parents[2]
# Events seeded a moment ago are exported at once, not after the default settle time.
EXPORT = ("events", "export", "--settle", "0")


def cli(tmp_path: Path, url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text(
            '[gateway]\ntimezone = "Europe/Madrid"\n\n'
            '[presence]\nexcluded_rooms = ["Guardia"]\nlate_grace_min = 5\n'
        )
    env = {
        **os.environ,
        "CLOCK_GATEWAY_CONFIG": str(config),
        "CLOCK_GATEWAY_DATABASE_URL": url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def seed(url: str) -> None:
    async def main() -> None:
        stores = await seeded(url)
        try:
            await stores.swipes.record_events(
                [
                    clock("ana", "in", local("2026-11-23", "08:31")),
                    clock("ana", "out", local("2026-11-23", "14:45")),
                    clock("luis", "in", local("2026-11-23", "08:10")),
                    clock("luis", "out", local("2026-11-23", "09:30")),
                    clock("pau", "in", local("2026-11-23", "22:00")),
                    clock("pau", "out", local("2026-11-24", "06:00")),
                ]
            )
        finally:
            await stores.close()

    asyncio.run(main())


def test_timetable_who_report_and_export(tmp_path: Path) -> None:
    # The whole flow on SQLite; the same code on PostgreSQL is covered below and,
    # rule by rule, in test_db.py on both backends.
    db_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    seed(db_url)
    bad = tmp_path / "bad.csv"
    bad.write_text("uid,weekday,start,end,room\nana,Mon,08:15,14:45,Lab 1\nghost,Mon,8:00,9:00,X\n")
    done = cli(tmp_path, db_url, "timetable", "import", str(bad), code=ExitCode.BAD_INPUT)
    assert f"{bad}:3: unknown uid 'ghost'" in done.stderr
    assert "nothing was imported" in done.stderr.splitlines()[-1]
    assert json.loads(cli(tmp_path, db_url, "timetable", "list", "--json").stdout) == []

    good = tmp_path / "good.csv"
    good.write_text(
        "uid;weekday;start;end;room\n"
        "ana;lun;08:15;14:45;Lab 1\n"
        "luis;Mon;08:15;10:15;Lab 2\n"
        "eva;1;09:00;11:00;Lab 3\n"
        "pau;1;12:00;13:00;Guardia\n"
    )
    done = cli(tmp_path, db_url, "timetable", "import", str(good))
    assert "4 row(s) for 4 person(s)" in done.stdout
    listed = json.loads(
        cli(tmp_path, db_url, "timetable", "list", "--json", "--user", "ana").stdout
    )
    assert [(r["weekday_name"], r["start"], r["end"], r["room"]) for r in listed] == [
        ("Mon", "08:15", "14:45", "Lab 1")
    ]

    who = json.loads(cli(tmp_path, db_url, "who", "--at", "2026-11-23 10:00", "--json").stdout)
    assert who["at"] == "2026-11-23T10:00:00+01:00"
    assert [(r["uid"], r["room"], r["status"]) for r in who["scheduled"]] == [
        ("ana", "Lab 1", "present"),
        ("luis", "Lab 2", "absent"),
        ("eva", "Lab 3", "absent"),
    ]
    table = cli(tmp_path, db_url, "who", "--at", "2026-11-23 10:00").stdout
    assert "present: 1" in table and "absent: 2" in table

    report = json.loads(
        cli(
            tmp_path,
            db_url,
            "report",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-24",
            "--format",
            "json",
        ).stdout
    )
    days = {(d["uid"], d["date"]): d for d in report["days"]}
    assert days["ana", "2026-11-23"]["worked"] == "6:14"
    assert days["ana", "2026-11-23"]["flags"] == ["late=16min"]
    assert days["eva", "2026-11-23"]["flags"] == ["absent"]
    assert days["pau", "2026-11-23"]["worked_minutes"] == 480
    # His 12:00-13:00 row is in an excluded room: not scheduled time, not absent.
    assert (days["pau", "2026-11-23"]["scheduled"], days["pau", "2026-11-23"]["flags"]) == (
        "0:00",
        [],
    )
    assert days["pau", "2026-11-23"]["last_out"] == "2026-11-24T06:00:00+01:00"
    assert ("pau", "2026-11-24") not in days
    assert [(m["uid"], m["worked"]) for m in report["months"]] == [
        ("ana", "6:14"),
        ("eva", "0:00"),
        ("luis", "1:20"),
        ("pau", "8:00"),
    ]
    rows = list(
        csv.DictReader(
            io.StringIO(
                cli(
                    tmp_path,
                    db_url,
                    "report",
                    "--from",
                    "2026-11-23",
                    "--to",
                    "2026-11-24",
                    "--user",
                    "pau",
                    "--format",
                    "csv",
                ).stdout
            )
        )
    )
    assert [(r["kind"], r["date"], r["worked"]) for r in rows] == [
        ("day", "2026-11-23", "8:00"),
        ("month", "2026-11", "8:00"),
    ]
    text = cli(tmp_path, db_url, "report", "--from", "2026-11-23").stdout
    assert "06:00+1" in text and "late=16min" in text and "Month totals" in text
    # Refused at the command line, as register export and verify do (argtypes.date_range).
    backwards = cli(
        tmp_path,
        db_url,
        "report",
        "--from",
        "2026-11-30",
        "--to",
        "2026-11-01",
        code=ExitCode.USAGE,
    )
    assert backwards.stderr.strip().endswith("--to is before --from")
    cli(tmp_path, db_url, "report", "--from", "yesterday", code=7)

    cursor = tmp_path / "cursor"
    first = cli(
        tmp_path,
        db_url,
        "events",
        "export",
        "--cursor-file",
        str(cursor),
        "--limit",
        "4",
        "--settle",
        "0",
    )
    ids = [int(r["id"]) for r in csv.DictReader(io.StringIO(first.stdout))]
    assert len(ids) == 4 and ids == sorted(ids)
    assert f"last-id: {ids[-1]}" in first.stderr
    assert cursor.read_text().strip() == str(ids[-1])
    rest = cli(
        tmp_path,
        db_url,
        "events",
        "export",
        "--cursor-file",
        str(cursor),
        "--format",
        "jsonl",
        "--settle",
        "0",
    )
    more = [json.loads(line) for line in rest.stdout.splitlines()]
    assert len(more) == 2 and more[0]["id"] > ids[-1]
    assert more[-1]["received_local"] == "2026-11-24T06:00:00+01:00"
    again = cli(tmp_path, db_url, *EXPORT, "--cursor-file", str(cursor))
    assert again.stdout.splitlines() == [again.stdout.splitlines()[0]]  # header only
    assert f"last-id: {more[-1]['id']} (0 event(s)" in again.stderr


def test_a_missing_database_is_one_clear_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    done = cli(tmp_path, url, "who", code=ExitCode.DB_UNAVAILABLE)
    assert done.stderr.startswith("clock-gateway: error:") and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "absent.db").exists()


def test_the_commands_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    seed(pg_url)
    timetable = tmp_path / "t.csv"
    timetable.write_text("ana,Mon,08:15,14:45,Lab 1\nluis,Mon,08:15,10:15,Lab 2\n")
    cli(tmp_path, pg_url, "timetable", "import", str(timetable))
    who = json.loads(
        cli(tmp_path, pg_url, "who", "--at", "2026-11-23T10:00+01:00", "--json").stdout
    )
    assert [(r["uid"], r["status"]) for r in who["scheduled"]] == [
        ("ana", "present"),
        ("luis", "absent"),
    ]
    report = json.loads(
        cli(tmp_path, pg_url, "report", "--from", "2026-11-23", "--format", "json").stdout
    )
    assert [(d["uid"], d["worked"], d["flags"]) for d in report["days"]] == [
        ("ana", "6:14", ["late=16min"]),
        ("luis", "1:20", []),
        ("pau", "8:00", []),
    ]
    export = cli(
        tmp_path,
        pg_url,
        "events",
        "export",
        "--since-id",
        "2",
        "--format",
        "jsonl",
        "--settle",
        "0",
    )
    assert [json.loads(line)["id"] for line in export.stdout.splitlines()] == [3, 4, 5, 6]
    assert "last-id: 6" in export.stderr
