"""The CLI export on both backends (SQLite and a throwaway PostgreSQL cluster), with a
night shift: in 22:00, out 23:50, in 00:20 (the next date), out 06:00, Madrid time.

The shift is one working day, the day it began: start 22:00, end 06:00 the next
morning, one pause 23:50-00:20 across midnight, 7:30 worked; the month counts one day
worked and 7:30 (plus the day shift next to it). The manifest verifies and HEAD.txt is
the register's head, on PostgreSQL as on SQLite."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.domain import Direction
from tests.register.support import existing_person
from tests.register.test_cli import Cli
from tests.register.test_export import pdf_text
from tests.store.support import event, open_stores

MADRID = ZoneInfo("Europe/Madrid")
IN, OUT = Direction.IN, Direction.OUT


def _at(day: int, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 3, day, hour, minute, tzinfo=MADRID).astimezone(UTC)


TAPS = [
    # A night shift with a pause across midnight, from Monday 2 into Tuesday 3 March.
    ("noe", IN, _at(2, "22:00")),
    ("noe", OUT, _at(2, "23:50")),
    ("noe", IN, _at(3, "00:20")),
    ("noe", OUT, _at(3, "06:00")),
    # Wednesday night: the next shift, after a full day's rest (its own day).
    ("noe", IN, _at(4, "22:00")),
    ("noe", OUT, _at(5, "06:00")),
    # A day worker on the same Tuesday, for contrast.
    ("ana", IN, _at(3, "08:00")),
    ("ana", OUT, _at(3, "15:00")),
]


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


async def test_night_shift_export_on_each_backend(db_url: str, tmp_path: Path) -> None:
    async with open_stores(db_url) as stores:
        await existing_person(stores, "noe", "Noé Sáez", "04A0A0A1")
        await existing_person(stores, "ana", "Ana García", "04A1B2C3")
        await stores.swipes.record_events(
            [event(uid, card="04A0A0A1", at=at, direction=d) for uid, d, at in TAPS]
        )
    cli = Cli(tmp_path, db_url)
    cli.config.write_text(
        f'[gateway]\nstate_dir = "{cli.state}"\ntimezone = "Europe/Madrid"\n'
        f'[database]\nurl = "{db_url}"\n'
    )
    cli("register", "seal")
    head = cli("register", "head")[0].strip()
    out = tmp_path / "march"
    printed, _ = cli(
        "register", "export", "--from", "2026-03-01", "--to", "2026-03-31", "--out", str(out)
    )
    assert f"chain head: {head}" in printed
    assert (out / "HEAD.txt").read_text().strip() == head
    check = subprocess.run(
        ["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stdout.count(": OK") == 9, check.stdout

    days = [(r["uid"], r["day"], r["start"], r["end"], r["pauses"], r["worked"], r["sessions"])
            for r in _rows(out / "days.csv")]  # fmt: skip
    assert days == [
        ("ana", "2026-03-03", "2026-03-03 08:00", "2026-03-03 15:00", "", "7:00", "1"),
        (
            "noe",
            "2026-03-02",  # the day the shift began, not the 3rd
            "2026-03-02 22:00",
            "2026-03-03 06:00",
            "2026-03-02 23:50-00:20",
            "7:30",
            "2",
        ),
        ("noe", "2026-03-04", "2026-03-04 22:00", "2026-03-05 06:00", "", "8:00", "1"),
    ]
    months = [
        (r["uid"], r["month"], r["days_worked"], r["worked"]) for r in _rows(out / "months.csv")
    ]
    assert months == [("ana", "2026-03", "1", "7:00"), ("noe", "2026-03", "2", "15:30")]
    lines = [" ".join(line.split()) for line in pdf_text(out).splitlines()]
    assert (
        "noe | Noé Sáez | 2026-03-02 | 2026-03-02 22:00 | 2026-03-03 06:00"
        " | 2026-03-02 23:50-00:20 | 7:30 | 2 |" in lines
    ), lines
    assert "noe | Noé Sáez | 2026-03 | 2 | 15:30" in lines


async def test_a_range_starting_on_the_morning_after_leaves_the_night_to_its_day(
    db_url: str, tmp_path: Path
) -> None:
    """Exporting from the 3rd: the night that began on the 2nd is not the 3rd's."""
    async with open_stores(db_url) as stores:
        await existing_person(stores, "noe", "Noé Sáez", "04A0A0A1")
        await stores.swipes.record_events(
            [event(uid, card="04A0A0A1", at=at, direction=d) for uid, d, at in TAPS[:4]]
        )
    cli = Cli(tmp_path, db_url)
    cli.config.write_text(
        f'[gateway]\nstate_dir = "{cli.state}"\ntimezone = "Europe/Madrid"\n'
        f'[database]\nurl = "{db_url}"\n'
    )
    out = tmp_path / "third"
    cli("register", "export", "--from", "2026-03-03", "--to", "2026-03-03", "--out", str(out))
    assert _rows(out / "days.csv") == []
    assert _rows(out / "months.csv") == []
