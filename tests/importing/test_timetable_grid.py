"""The original's grid timetable sheet: reading .xls/.xlsx, the layout, uids, problems."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from gateway.errors import InvalidInputError
from gateway.importing.spreadsheet import read_sheet
from gateway.importing.timetable_file import parse_rows, read_rows
from gateway.importing.timetable_grid import column_letter, looks_like_grid, parse_grid
from gateway.importing.uids import PeopleMatcher, derive_uid, name_key
from tests.support.grid_sheet import DAYS_EN, SLOTS, make_sheet, write_xls, write_xlsx


def _trimmed(rows: list[list[str]]) -> list[list[str]]:
    out = []
    for row in rows:
        row = list(row)
        while row and not row[-1]:
            row.pop()
        out.append(row)
    return out


@pytest.mark.parametrize("writer", [write_xlsx, write_xls], ids=["xlsx", "xls"])
def test_both_formats_read_as_the_sheet_was_written(tmp_path: Path, writer: object) -> None:
    sheet = make_sheet(40)
    suffix = ".xlsx" if writer is write_xlsx else ".xls"
    path = writer(sheet, tmp_path / f"horario{suffix}")  # type: ignore[operator]
    assert read_sheet(path) == _trimmed(sheet.rows())


def test_a_few_hundred_people_parse_into_one_row_per_cell() -> None:
    sheet = make_sheet(300)
    grid, problems = parse_grid(sheet.rows())
    assert problems == []
    assert len(grid.people) == 300
    # The always-empty 15:00-16:00 is skipped on each of the five days.
    assert grid.skipped_slots == 5
    assert len(grid.slots) == 5 * 12
    assert {(s.start, s.end) for s in grid.slots} == {
        (time(*map(int, a.split(":"))), time(*map(int, b.split(":"))))
        for i, (a, b) in enumerate(SLOTS)
        if i != 6
    }
    uids = {p.name: f"u{i}" for i, p in enumerate(grid.people)}
    entries = grid.entries(uids)
    assert len(entries) == len(sheet.cells)
    room = next(e.room for e in entries if e.room.startswith("GUARDIA"))
    assert room.count(" - ") == 1


def test_english_weekday_names_and_detection() -> None:
    sheet = make_sheet(5, day_names=DAYS_EN)
    assert looks_like_grid(sheet.rows())
    grid, problems = parse_grid(sheet.rows())
    assert problems == [] and {s.weekday for s in grid.slots} <= {1, 2, 3, 4, 5}
    assert not looks_like_grid([["uid", "weekday", "start", "end", "room"]])


def test_uids_are_ascii_unique_and_stable() -> None:
    sheet = make_sheet(300)
    grid, _ = parse_grid(sheet.rows())
    matcher = PeopleMatcher([("luis", "Luis Pérez")], create=True)
    first = {p.name: matcher.resolve(p.name) for p in grid.people}
    assert all(r.created and r.uid for r in first.values())
    uids = [r.uid for r in first.values()]
    assert len(set(uids)) == len(uids)
    assert all(u is not None and u.isascii() and " " not in u for u in uids)
    assert first["García López, Ana (AGL)"].uid == "ana.garcia.lopez"
    assert first["Garcia Lopez, Ana (AGL2)"].uid == "ana.garcia.lopez-2"
    # A second import against the people the first one created: the same uids, nobody new.
    again = PeopleMatcher([(r.uid or "", n) for n, r in first.items()], create=True)
    second = {p.name: again.resolve(p.name) for p in grid.people}
    assert {n: r.uid for n, r in second.items()} == {n: r.uid for n, r in first.items()}
    assert not any(r.created for r in second.values())


def test_names_match_people_added_by_hand() -> None:
    matcher = PeopleMatcher([("ana.garcia", "Ana García"), ("pau", "Pau Soler")])
    assert matcher.resolve("García, Ana (AG)").uid == "ana.garcia"
    assert matcher.resolve("pau").uid == "pau"
    missing = matcher.resolve("Nadie, Nemo (NN)")
    assert missing.uid is None and "--create-people" in (missing.problem or "")
    # Two names of one file landing on one person is a problem, not a merge.
    clash = matcher.resolve("Garcia, Ana (AG2)")
    assert clash.uid is None and "would both be ana.garcia" in (clash.problem or "")
    assert name_key("Ñúñez  Ibáñez, Íñigo\n(NII)") == "inigo.nunez.ibanez"
    assert derive_uid("Zoë", {"zoe", "zoe-2"}) == "zoe-3"


def test_a_bad_sheet_lists_every_problem() -> None:
    rows = [
        ["", "Lunes", "", "", "Funday", "Lunes"],
        ["", "8:15\n9:15", "9:00\n10:00", "", "8:15\n9:15", "10:15\n9:15"],
        ["Pérez, Luis (LP)", "Aula 1", "Aula 2", "Aula 3", "Aula 4", "Aula 5"],
        ["", "Aula 9"],
        ["Pérez, Luis (LP)", ""],
    ]
    _, problems = parse_grid(rows)
    text = [str(p) for p in problems]
    assert text == [
        "line 1: cell E1: 'Funday' is not a weekday name",
        "line 1: cell F1: Mon again (already in B1)",
        "line 2: cell C2: Mon 9:00-10:00 overlaps B2 (8:15-9:15)",
        "line 2: cell D2: empty, but column D has entries (write the slot's start and end there)",
        "line 4: entries but no name in column A",
        "line 5: 'Pérez, Luis (LP)' again (already on line 3)",
    ]


def test_slot_headers_must_be_two_times() -> None:
    rows = [["", "Martes", ""], ["", "8:15", "9:15\n8:15"], ["Soler, Pau (PS)", "x", "y"]]
    _, problems = parse_grid(rows)
    assert [str(p) for p in problems] == [
        "line 2: cell B2: '8:15' is not a slot: write its start and end, "
        "e.g. '8:15' and '9:15' on two lines",
        "line 2: cell C2: the slot ends (8:15) before it starts (9:15)",
    ]
    with pytest.raises(InvalidInputError):
        parse_grid([["uid"]])


def test_long_format_still_reads_from_xls(tmp_path: Path) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("t")
    for c, text in enumerate(("uid", "weekday", "start", "end", "room")):
        ws.write(0, c, text)
    for c, text in enumerate(("ana", "Lunes", "08:15", "14:45", "Aula\n3")):
        ws.write(1, c, text)
    book.save(str(tmp_path / "t.xls"))
    entries, problems = parse_rows(list(read_rows(tmp_path / "t.xls")), {"ana"})
    assert problems == [] and entries[0].room == "Aula - 3"


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 65)] == ["A", "Z", "AA", "BN"]
