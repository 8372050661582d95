"""Tap to screen, measured as bench.tap_screen does, on a few taps.

Bounds are in simulated time (the AVR's cycle count), not in wall time. The hops on
the board (card to SWIPE, RESULT to the last LCD write) are the firmware's and the
simulator's alone, so they are deterministic and bound tightly enough to catch the
old 50 ms polling; the daemon's part follows the wall clock (the simulator runs in
real time), so the whole tap only gets a generous bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.tap_screen import card_read_floor_ms, measure

pytestmark = [pytest.mark.firmware, pytest.mark.e2e]


def test_tap_to_screen_runs_and_is_bounded(firmware: None, tmp_path: Path) -> None:
    taps = measure(tmp_path, 5)
    assert len(taps) == 5
    for i, t in enumerate(taps, start=1):
        assert t.screen[0].startswith(f"In - P{i:03d}")
        # Nothing beats the card read; with 2 ms polling a tap is on the wire
        # within a poll period (+ a poll with no card) of the card's arrival.
        assert card_read_floor_ms() <= t.to_swipe_ms < 10.0, t
        assert 0 < t.to_lcd_ms < 25.0, t
        assert t.floor_ms < t.total_ms < 1000.0, t
