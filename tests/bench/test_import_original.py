"""The import benchmark at its --quick size: registered, and its rows in the shape."""

from __future__ import annotations

from bench.import_original import QUICK_ROWS, run
from bench.registry import NAMES


def test_registered() -> None:
    assert "import_original" in NAMES


def test_quick_run_gives_rows_with_floor_ratio_and_target() -> None:
    # A real durable PostgreSQL cluster and SQLite file, at 2,000 taps: seconds.
    rows = run(quick=True)
    names = [r["name"] for r in rows]
    assert any("PostgreSQL" in n and n.startswith("import ") for n in names)
    assert any("SQLite" in n and n.startswith("import ") for n in names)
    for r in rows:
        assert r["unit"] == "rows/s" and r["value"] > 0 and r["floor"] > 0
        assert r["ratio"] == r["value"] / r["floor"]
    first = [r for r in rows if r["name"].startswith("import ")]
    assert all(r["target"] and isinstance(r["met"], bool) for r in first)
    assert all(f"{QUICK_ROWS:,} taps" in n for n in names)
