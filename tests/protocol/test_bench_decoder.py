"""bench.decoder runs and returns rows shaped for `python -m bench` (no timing is asserted)."""

from __future__ import annotations

from bench import decoder
from gateway.protocol import Decoder


def test_run_returns_rows_with_floor_and_ratio() -> None:
    rows = decoder.run(0.05)
    assert [r["name"] for r in rows] == ["decoder: valid frames", "decoder: noise"]
    for r in rows:
        assert r["unit"] == "MB/s"
        assert r["value"] > 0 and r["floor"] > 0
        assert abs(r["ratio"] - r["value"] / r["floor"]) < 1e-9


def test_valid_stream_decodes_without_errors() -> None:
    chunks = decoder._chunks(decoder._valid_stream())
    d = Decoder()
    for chunk in chunks:
        d.feed(chunk)
    assert d.frames_bad == 0 and d.frames_ok > 10000
