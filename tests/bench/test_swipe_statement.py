"""The swipe statement benchmark at its --quick size: registered, and its rows in shape."""

from __future__ import annotations

import asyncio
import math

import pytest

from bench.registry import NAMES
from bench.swipe_statement import FLUSHED, VARIANTS, run

pytestmark = [pytest.mark.postgres]


def test_registered() -> None:
    assert "swipe_statement" in NAMES


def test_quick_run_gives_a_row_per_variant_against_the_floor() -> None:
    # A real durable PostgreSQL cluster, 200 people, 40 statements per variant.
    rows = asyncio.run(run(quick=True))
    assert len(rows) == len(VARIANTS) + len(FLUSHED)
    floor = rows[0]["value"]
    for r in rows:
        assert r["unit"] == "ms" and math.isfinite(r["value"]) and r["value"] > 0
        assert r["floor"] == floor and r["ratio"] == pytest.approx(r["value"] / floor)
        assert "WAL bytes per statement" in r["note"] and "generic" in r["note"]
