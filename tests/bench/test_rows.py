"""The statistics and formatting every benchmark row goes through."""

from __future__ import annotations

import math

from bench.rows import (
    at_least,
    at_most,
    format_number,
    latency_rows,
    percentile,
    row,
    sum_of_independent,
)


def test_percentile_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]  # 1..100
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert math.isnan(percentile([], 50))


def test_sum_of_independent_draws_from_both() -> None:
    a, b = [1.0, 2.0], [10.0, 20.0]
    sums = sum_of_independent(a, b)
    assert len(sums) == 2
    assert all(s in {11.0, 12.0, 21.0, 22.0} for s in sums)
    assert sum_of_independent([], b) == []


def test_ratio_and_targets() -> None:
    slow = at_most(row("x", 3.0, "ms", floor=2.0), 1.3)
    assert slow["ratio"] == 1.5 and slow["met"] is False
    fast = at_least(row("y", 300.0, "swipes/s", floor=100.0), 2.0)
    assert fast["ratio"] == 3.0 and fast["met"] is True
    no_floor = at_most(row("z", 1.0, "ms"), 2.0)
    assert no_floor["ratio"] is None and no_floor["met"] is None


def test_latency_rows_in_milliseconds_against_the_floor() -> None:
    samples = [0.001 * i for i in range(1, 101)]  # 1..100 ms
    floor = [0.0005] * 100
    p50, p99, top = latency_rows("lat", samples, floor, p50_limit=1.3, p99_limit=2.0)
    assert p50["name"] == "lat p50" and math.isclose(p50["value"], 50.0)
    assert math.isclose(p50["floor"], 0.5) and math.isclose(p50["ratio"], 100.0)
    assert p50["met"] is False and p99["target"] == "ratio <= 2"
    assert math.isclose(top["value"], 100.0) and top["met"] is None


def test_format_number() -> None:
    assert format_number(1234.5) == "1,234"
    assert format_number(12.345) == "12.3"
    assert format_number(1.2345) == "1.23"
    assert format_number(0.012345) == "0.0123"
    assert format_number(None) == ""
    assert format_number(True) == "yes" and format_number(False) == "NO"
    assert format_number(math.nan) == "n/a"
