"""Issue 13 items 1-3: the spool never gives a false OK and never loses kept swipes
silently, whatever happens to its files."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.durable.record import encode_event, frame
from gateway.durable.segments import CHECKPOINT, Checkpoint, Position
from gateway.durable.spool import Spool, SpoolError
from tests.reliability.support import make_event


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("seg-*.log"))


async def keys_in(spool: Spool) -> list[str]:
    keys: list[str] = []
    while True:
        batch = await spool.read_batch(100)
        if not batch.records:
            return keys
        keys += [str(r.event.event_key) for r in batch.records if r.event]
        await spool.commit(batch)


def expected(numbers: range | list[int]) -> list[str]:
    return [str(make_event(i).event_key) for i in numbers]


def events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == name]


# -- item 1: a spool whose files were deleted or replaced answers KO, loudly ---------------


@pytest.mark.parametrize("how", ["state_dir_deleted", "segment_replaced", "segment_unlinked"])
async def test_deleted_or_replaced_files_are_ko(tmp_path: Path, how: str) -> None:
    state = tmp_path / "state"
    spool = Spool(state / "spool")
    await spool.open()
    await spool.append(make_event(0))
    (segment,) = segments(state / "spool")
    if how == "state_dir_deleted":
        shutil.rmtree(state)
        (state / "spool").mkdir(parents=True)  # as the status writer recreates it
    elif how == "segment_replaced":
        copy = segment.with_suffix(".tmp")
        shutil.copy(segment, copy)
        os.replace(copy, segment)
    else:
        segment.unlink()
    with capture_logs() as logs:
        for i in (1, 2):
            with pytest.raises(SpoolError) as refused:
                await spool.append(make_event(i))
            assert refused.value.reason == "spool_gone"
    gone = events(logs, "spool_file_gone")
    assert gone and gone[0]["log_level"] == "error"
    await spool.close()


# -- item 2: a checkpoint that does not fit the data deletes nothing ----------------------


@pytest.mark.parametrize("bad", [Position(99, 0), Position(1, 10**9)])
async def test_checkpoint_beyond_the_data_keeps_and_replays(tmp_path: Path, bad: Position) -> None:
    spool = Spool(tmp_path)
    await spool.open()
    for i in range(50):
        await spool.append(make_event(i))
    await spool.close()
    checkpoint = Checkpoint(tmp_path / CHECKPOINT)
    checkpoint.load()
    checkpoint.store(bad)
    checkpoint.close()
    with capture_logs() as logs:
        spool = Spool(tmp_path)
        await spool.open()
    assert spool.depth == 50
    mismatch = events(logs, "spool_checkpoint_mismatch")
    assert mismatch and mismatch[0]["log_level"] == "error"
    assert segments(tmp_path)
    assert await keys_in(spool) == expected(range(50))
    await spool.close()


# -- item 3: sequence numbers: a gap or a cut tail is reported with its size --------------


async def _filled(directory: Path, count: int) -> None:
    spool = Spool(directory, segment_bytes=1024)
    await spool.open()
    for i in range(count):
        await spool.append(make_event(i))
    await spool.close()


async def _reopen(directory: Path) -> tuple[Spool, list[dict[str, object]]]:
    with capture_logs() as logs:
        spool = Spool(directory, segment_bytes=1024)
        await spool.open()
    return spool, logs


async def test_a_deleted_segment_is_reported_with_how_many(tmp_path: Path) -> None:
    await _filled(tmp_path, 60)
    files = segments(tmp_path)
    assert len(files) >= 4
    victim = files[1]
    lost = len(list(_records_in(victim)))
    victim.unlink()
    spool, logs = await _reopen(tmp_path)
    missing = events(logs, "spool_records_missing")
    assert missing and missing[0]["log_level"] == "error"
    assert sum(int(str(e["missing"])) for e in missing) == lost
    assert len(await keys_in(spool)) == 60 - lost
    await spool.close()


async def test_a_deleted_first_segment_is_reported(tmp_path: Path) -> None:
    await _filled(tmp_path, 60)
    first = segments(tmp_path)[0]
    lost = len(list(_records_in(first)))
    first.unlink()
    spool, logs = await _reopen(tmp_path)
    assert sum(int(str(e["missing"])) for e in events(logs, "spool_records_missing")) == lost
    await spool.close()


@pytest.mark.parametrize("cut", ["record_boundary", "mid_record", "last_segment"])
async def test_a_cut_tail_is_reported_with_how_many(tmp_path: Path, cut: str) -> None:
    await _filled(tmp_path, 60)
    last = segments(tmp_path)[-1]
    ends = list(_record_ends(last))
    assert len(ends) >= 3
    if cut == "record_boundary":
        os.truncate(last, ends[-4])  # the last 3 records gone, cleanly
        lost = 3
    elif cut == "mid_record":
        os.truncate(last, ends[-3] - 7)  # 2 whole records and 7 bytes of the third gone
        lost = 3
    else:
        lost = len(ends)
        last.unlink()
    spool, logs = await _reopen(tmp_path)
    missing = events(logs, "spool_records_missing")
    assert missing, logs
    assert sum(int(str(e["missing"])) for e in missing) == lost
    assert len(await keys_in(spool)) == 60 - lost
    # Numbering goes on after the highest number ever used: no false alarm later.
    await spool.append(make_event(100))
    await spool.close()
    spool, logs = await _reopen(tmp_path)
    assert not events(logs, "spool_records_missing")
    assert await keys_in(spool) == expected([100])
    await spool.close()


async def test_an_old_spool_without_numbers_still_replays(tmp_path: Path) -> None:
    # Version-1 records (no sequence number) and a version-1 checkpoint, as the
    # previous release wrote them.
    (tmp_path / "seg-000000000001.log").write_bytes(
        b"".join(frame(encode_event(make_event(i))) for i in range(10))
    )
    spool, logs = await _reopen(tmp_path)
    assert spool.depth == 10
    assert not events(logs, "spool_records_missing")
    batch = await spool.read_batch(4)
    await spool.commit(batch)
    await spool.append(make_event(10))
    await spool.close()
    spool, logs = await _reopen(tmp_path)
    assert not events(logs, "spool_records_missing")
    assert await keys_in(spool) == expected([*range(4, 10), 10])
    await spool.close()


def _record_ends(path: Path) -> list[int]:
    from gateway.durable.record import parse_records

    return [end for end, _ in parse_records(path.read_bytes(), final=True).records]


def _records_in(path: Path) -> list[int]:
    return _record_ends(path)


async def test_status_shows_a_spool_whose_files_are_gone(tmp_path: Path) -> None:
    from gateway.status import from_json, snapshot_of, to_json

    state = tmp_path / "state"
    spool = Spool(state / "spool")
    await spool.open()
    await spool.append(make_event(0))
    shutil.rmtree(state)
    with pytest.raises(SpoolError):
        await spool.append(make_event(1))
    assert spool.error == "spool_gone"
    await spool.close()

    from gateway.recording.recorder import RecorderStats

    stats = RecorderStats(1, 10, 0, None, None, 0, False, 0, spool_error=spool.error)
    snapshot = snapshot_of(datetime.now(UTC), (), stats)
    assert from_json(to_json(snapshot)).spool_error == "spool_gone"
