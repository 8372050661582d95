"""Issue 13 item 12: timetable checks are linear (20,000 rows took 46 s, quadratic)."""

from __future__ import annotations

import time

from gateway.importing.timetable_file import parse_rows


def _rows(count: int, people: int) -> list[tuple[int, list[str]]]:
    rows = []
    per_person = count // people
    for p in range(people):
        for i in range(per_person):
            # 2-minute slots through the week, none overlapping.
            minute = i * 2
            day, rest = divmod(minute, 1440)
            start = f"{rest // 60:02d}:{rest % 60:02d}"
            end_m = rest + 2
            end = f"{end_m // 60 % 24:02d}:{end_m % 60:02d}"
            rows.append((len(rows) + 2, [f"p{p}", str(day % 7 + 1), start, end, "A1"]))
    return rows


def test_twenty_thousand_rows_check_in_linear_time() -> None:
    for people in (1_000, 4):  # many people, and a few with thousands of rows each
        rows = _rows(20_000, people)
        known = {f"p{p}" for p in range(people)}
        started = time.monotonic()
        entries, problems = parse_rows(rows, known)
        took = time.monotonic() - started
        assert problems == [] and len(entries) == 20_000
        assert took < 5.0, f"{took:.1f} s for 20,000 rows ({people} people)"


def test_overlaps_are_still_found_across_the_week() -> None:
    rows = [
        (2, ["ana", "1", "08:00", "10:00", ""]),
        (3, ["ana", "1", "10:00", "11:00", ""]),  # touching: fine
        (4, ["ana", "1", "09:59", "10:30", ""]),  # overlaps lines 2 and 3
        (5, ["ana", "7", "23:00", "01:00", ""]),  # Sunday night into Monday
        (6, ["ana", "1", "00:30", "02:00", ""]),  # overlaps line 5 across the week
        (7, ["bob", "1", "09:00", "10:00", ""]),  # another person: fine
        (8, ["ana", "3", "12:00", "13:00", ""]),
        (9, ["ana", "3", "11:00", "14:00", ""]),  # contains line 8
    ]
    entries, problems = parse_rows(rows, {"ana", "bob"})
    assert [p.line for p in problems] == [4, 6, 9]
    assert "overlaps line 2" in problems[0].message
    assert "overlaps line 5" in problems[1].message
    assert "overlaps line 8" in problems[2].message
    assert len(entries) == 5
