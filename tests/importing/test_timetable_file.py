"""Reading and validating timetable files."""

from __future__ import annotations

import sys
from datetime import time
from pathlib import Path

import openpyxl
import pytest

from gateway.errors import GatewayError, InvalidInputError
from gateway.importing.timetable_file import parse_rows, read_rows
from gateway.reports.timeparse import parse_clock_time, parse_weekday
from tests.reports.helpers import row

KNOWN = {"ana", "luis"}


def parse(text: str, tmp_path: Path) -> tuple[list[object], list[str]]:
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    entries, problems = parse_rows(read_rows(path), KNOWN)
    return list(entries), [str(p) for p in problems]


@pytest.mark.parametrize(
    ("text", "iso"),
    [("1", 1), ("7", 7), ("Mon", 1), ("sunday", 7), ("lun", 1), ("Miércoles", 3), ("sáb", 6)],
)
def test_weekday_names(text: str, iso: int) -> None:
    assert parse_weekday(text) == iso


@pytest.mark.parametrize("text", ["0", "8", "Funday", ""])
def test_bad_weekdays(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_weekday(text)


def test_times() -> None:
    assert parse_clock_time("8:15") == time(8, 15)
    assert parse_clock_time("23:59:30") == time(23, 59, 30)
    for bad in ("24:00", "8", "12:60", "noon"):
        with pytest.raises(InvalidInputError):
            parse_clock_time(bad)


def test_a_clean_file_with_header_and_semicolons(tmp_path: Path) -> None:
    entries, problems = parse(
        "uid;weekday;start;end;room\nana;lun;08:15;14:45;Lab 1\nluis;7;22:00;06:00;\n", tmp_path
    )
    assert problems == []
    assert entries == [
        row("ana", 1, "08:15", "14:45", "Lab 1"),
        row("luis", 7, "22:00", "06:00", ""),
    ]


def test_every_bad_row_is_reported_with_its_line(tmp_path: Path) -> None:
    _entries, problems = parse(
        "uid,weekday,start,end,room\n"
        "ana,Mon,08:15,14:45,Lab 1\n"
        "nobody,Mon,08:15,14:45,Lab 1\n"
        "luis,Funday,08:15,14:45,Lab 1\n"
        "luis,Tue,8h,14:45,Lab 1\n"
        "luis,Wed,09:00,09:00,Lab 1\n"
        "luis,Thu,09:00\n"
        "ana,Mon,14:00,15:00,Lab 2\n",
        tmp_path,
    )
    assert problems == [
        "line 3: unknown uid 'nobody'",
        "line 4: bad weekday 'Funday': use 1-7 (1 = Monday), Mon..Sun or lun..dom",
        "line 5: start: bad time '8h': use HH:MM (00:00 to 23:59)",
        "line 6: start and end are equal (an empty shift)",
        "line 7: expected 5 columns (uid, weekday, start, end, room), got 3",
        "line 8: overlaps line 2 (ana, Mon 08:15-14:45)",
    ]


def test_overlap_across_midnight_and_the_week_end(tmp_path: Path) -> None:
    _entries, problems = parse("ana,Sun,22:00,06:00,A\nana,Mon,05:00,07:00,A\n", tmp_path)
    assert problems == ["line 2: overlaps line 1 (ana, Sun 22:00-06:00)"]
    _entries, problems = parse("ana,Mon,08:15,09:15,A\nana,Mon,09:15,10:15,A\n", tmp_path)
    assert problems == []


def test_xlsx_rows(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["uid", "weekday", "start", "end", "room"])
    sheet.append(["ana", 2, time(8, 15), time(14, 45), "Lab 1"])
    sheet.append(["luis", "vie", "16:00", "22:15", None])
    path = tmp_path / "t.xlsx"
    book.save(path)
    entries, problems = parse_rows(read_rows(path), KNOWN)
    assert problems == []
    assert entries == [
        row("ana", 2, "08:15", "14:45", "Lab 1"),
        row("luis", 5, "16:00", "22:15", ""),
    ]


def test_xlsx_without_openpyxl_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as if it were not installed
    with pytest.raises(GatewayError, match=r"clock-gateway\[xlsx\]"):
        list(read_rows(path))
