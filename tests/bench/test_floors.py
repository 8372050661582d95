"""The floors produce plausible samples (not timed: a smoke test of the machinery)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import floors
from bench.frames import result_frame, swipe_frame
from gateway.protocol.codec import decode_frame
from gateway.protocol.messages import Result, Swipe


def test_frames_are_the_real_protocol_frames() -> None:
    swipe = decode_frame(swipe_frame(7)[:-1])
    result = decode_frame(result_frame(7)[:-1])
    assert isinstance(swipe, Swipe) and swipe.seq == 7
    assert isinstance(result, Result) and result.text == "Entrada - Ana"


def test_pty_round_trips_through_the_echo_process() -> None:
    samples = asyncio.run(floors.pty_round_trips(20, warmup=2))
    assert len(samples) == 20
    assert all(0 < s < 2.0 for s in samples)


def test_fsync_appends_leave_nothing_behind(tmp_path: Path) -> None:
    samples = floors.fsync_append_samples(tmp_path / "spool", 10, warmup=1)
    assert len(samples) == 10 and all(s > 0 for s in samples)
    assert list((tmp_path / "spool").iterdir()) == []


@pytest.mark.postgres
def test_commit_floor_and_loop(pg_url: str) -> None:
    samples = floors.commit_samples(pg_url, 10, warmup=1)
    assert len(samples) == 10 and all(s > 0 for s in samples)
    assert floors.commit_loop_rate(pg_url, 0.2) > 0
    floors.drop_floor_table(pg_url)
