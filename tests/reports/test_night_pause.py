"""A night shift's pause across midnight stays in the day the shift began
(rules.MAX_PAUSE), and only a pause does: a longer gap, or an in after a forgotten
out, starts the day of its own date."""

from __future__ import annotations

from datetime import date, timedelta

from tests.reports.test_sessions import H, build

M = timedelta(minutes=1)


def test_a_pause_across_midnight_is_a_pause_of_the_night_shifts_day() -> None:
    days = build(
        [
            ("in", "2026-11-23", "22:00"),
            ("out", "2026-11-23", "23:50"),
            ("in", "2026-11-24", "00:20"),
            ("out", "2026-11-24", "06:00"),
        ],
        "2026-11-23",
        "2026-11-24",
    )
    assert [(d.day, d.worked, d.sessions, d.flags) for d in days] == [
        (date(2026, 11, 23), 7 * H + 30 * M, 2, [])
    ]
    [(_, pause_start), (pause_end, _)] = days[0].intervals
    assert pause_end - pause_start == 30 * M


def test_a_gap_longer_than_max_pause_after_midnight_is_a_new_day() -> None:
    days = build(
        [
            ("in", "2026-11-23", "18:00"),
            ("out", "2026-11-23", "23:00"),
            ("in", "2026-11-24", "01:30"),  # 2 h 30 after the out: not a pause
            ("out", "2026-11-24", "05:30"),
        ],
        "2026-11-23",
        "2026-11-24",
    )
    assert [(d.day.day, d.worked, d.sessions) for d in days] == [(23, 5 * H, 1), (24, 4 * H, 1)]


def test_an_in_after_a_forgotten_out_is_not_a_pause() -> None:
    days = build(
        [
            ("in", "2026-11-23", "23:00"),
            ("in", "2026-11-24", "00:30"),
            ("out", "2026-11-24", "06:00"),
        ],
        "2026-11-23",
        "2026-11-24",
    )
    assert [(d.day.day, d.flags) for d in days] == [(23, ["missing-out"]), (24, [])]
    assert days[1].worked == 5 * H + 30 * M
