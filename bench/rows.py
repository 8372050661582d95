"""The one shape every benchmark reports in, and the statistics used to fill it.

A row is a plain dict so that benchmarks owned by other modules (bench.decoder,
bench.reports) can return rows without importing anything from here:
{name, value, unit, floor, ratio}, plus optionally `target` (text for people) and
`met` (True, False, or None when there is no target).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def sum_of_independent(a: Sequence[float], b: Sequence[float], seed: int = 1) -> list[float]:
    """Samples of A + B from samples of A and of B, paired at random.

    The latency floor is a PTY round trip *plus* a commit; adding their p99s would
    overstate the p99 of the sum, so pair the measured samples at random instead.
    """
    if not a or not b:
        return []
    rng = random.Random(seed)
    n = max(len(a), len(b))
    return [rng.choice(a) + rng.choice(b) for _ in range(n)]


def ratio(value: float, floor: float | None) -> float | None:
    if floor is None or not math.isfinite(floor) or floor <= 0 or not math.isfinite(value):
        return None
    return value / floor


def row(
    name: str,
    value: float,
    unit: str,
    *,
    floor: float | None = None,
    target: str | None = None,
    met: bool | None = None,
    note: str | None = None,
) -> Row:
    """A row; the ratio is always value / floor."""
    out: Row = {
        "name": name,
        "value": value,
        "unit": unit,
        "floor": floor,
        "ratio": ratio(value, floor),
        "target": target,
        "met": met,
    }
    if note:
        out["note"] = note
    return out


def at_most(r: Row, limit: float) -> Row:
    """Mark the row met when its ratio is at most `limit` (times its floor)."""
    r["target"] = f"ratio <= {limit:g}"
    r["met"] = None if r["ratio"] is None else bool(r["ratio"] <= limit)
    return r


def at_least(r: Row, limit: float) -> Row:
    r["target"] = f"ratio >= {limit:g}"
    r["met"] = None if r["ratio"] is None else bool(r["ratio"] >= limit)
    return r


def ms(seconds: float) -> float:
    return seconds * 1000.0


def latency_rows(
    prefix: str,
    samples_s: Sequence[float],
    floor_s: Sequence[float],
    *,
    p50_limit: float | None = None,
    p99_limit: float | None = None,
) -> list[Row]:
    """p50, p99 and max of a latency distribution in ms, each against the floor's."""
    rows = []
    for label, q, limit in (
        ("p50", 50.0, p50_limit),
        ("p99", 99.0, p99_limit),
        ("max", 100.0, None),
    ):
        value = ms(percentile(samples_s, q))
        fl = ms(percentile(floor_s, q)) if floor_s else None
        r = row(f"{prefix} {label}", value, "ms", floor=fl)
        if limit is not None:
            at_most(r, limit)
        rows.append(r)
    return rows


def format_number(value: Any) -> str:
    """Three significant digits, no exponent for the magnitudes a benchmark prints."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100 or magnitude == 0:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
