"""A bounded, seeded fuzz of the serial line (issue 13): a few seconds in `make test`;
`python -m bench.soak --fuzz-minutes N` runs the same fuzzer for longer."""

from __future__ import annotations

import pytest

from bench.kit.serial_fuzz import fuzz


@pytest.mark.parametrize("seed", [20261130, 7])
def test_serial_fuzz(seed: int) -> None:
    figures = fuzz(seed, seconds=3.0)
    assert figures.ok, figures
    assert figures.swipes_sent > 100 and figures.frames_mutated > 100, figures
    # Bad frames are summarised: one line per 10 s (plus the first), not one per frame.
    assert figures.log_lines <= figures.simulated_s / 10 + 2, figures
