"""The spool on a real disk: order, group commit, recovery, torn writes, bound, full disk."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from gateway.durable.record import HEADER, decode_event, encode_event, frame, parse_records
from gateway.durable.segments import CHECKPOINT, DEAD_LETTER, Checkpoint
from gateway.durable.spool import Spool, SpoolError, SpoolFullError, SpoolLockedError
from tests.reliability.support import make_event, remount


async def drain_all(spool: Spool, limit: int = 7) -> list[str]:
    """Read and commit everything, returning event keys in order."""
    keys: list[str] = []
    while True:
        batch = await spool.read_batch(limit)
        if not batch.records:
            return keys
        keys += [str(r.event.event_key) for r in batch.records if r.event]
        await spool.commit(batch)


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("seg-*.log"))


def test_record_codec_round_trip() -> None:
    event = make_event(7, reader="exit")
    assert decode_event(encode_event(event)) == event
    raw = frame(encode_event(event))
    parsed = parse_records(raw + raw, final=True)
    assert [decode_event(p) for _, p in parsed.records] == [event, event]
    assert parsed.skipped == 0


def test_parse_skips_garbage_and_never_misreads() -> None:
    good = [frame(encode_event(make_event(i))) for i in range(3)]
    # A torn record (cut short) in the middle and noise in front of the next one.
    data = good[0] + good[1][:-5] + b"\x00\xc5\x70junk" + good[2]
    parsed = parse_records(data, final=True)
    assert [decode_event(p) for _, p in parsed.records] == [make_event(0), make_event(2)]
    assert parsed.skipped == len(good[1]) - 5 + 7
    assert parsed.consumed == len(data)


def test_parse_waits_for_the_rest_of_a_record_unless_final() -> None:
    rec = frame(encode_event(make_event(1)))
    partial = parse_records(rec[:-3], final=False)
    assert partial.records == [] and partial.consumed == 0 and partial.skipped == 0
    torn = parse_records(rec[:-3], final=True)
    assert torn.records == [] and torn.skipped == len(rec) - 3


async def test_fifo_order_and_depth(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    await spool.open()
    events = [make_event(i, reader=r) for i in range(50) for r in ("entrance", "exit")]
    for event in events:
        await spool.append(event)
    assert spool.depth == 100
    assert await drain_all(spool) == [str(e.event_key) for e in events]
    assert spool.depth == 0
    await spool.close()


async def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    await spool.open()
    events = [make_event(i) for i in range(300)]
    await asyncio.gather(*(spool.append(e) for e in events))
    assert spool.depth == 300
    # Group commit: far fewer fsyncs than events, and the order of the calls is kept.
    assert spool.fsyncs < 100
    assert await drain_all(spool, limit=1000) == [str(e.event_key) for e in events]
    await spool.close()


async def test_recovery_keeps_uncommitted_events(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    await spool.open()
    for i in range(10):
        await spool.append(make_event(i))
    batch = await spool.read_batch(4)
    await spool.commit(batch)
    await spool.read_batch(3)  # handed out but never committed: a crash before the DB
    await spool.close()

    again = Spool(tmp_path)
    await again.open()
    assert again.depth == 6
    await again.append(make_event(10))
    assert await drain_all(again) == [str(make_event(i).event_key) for i in range(4, 11)]
    await again.close()


async def test_torn_tail_is_detected_and_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    await spool.open()
    for i in range(5):
        await spool.append(make_event(i))
    await spool.close()
    (seg,) = segments(tmp_path)
    size = seg.stat().st_size
    os.truncate(seg, size - 9)  # power cut in the middle of the last record

    with capture_logs() as logs:
        again = Spool(tmp_path)
        await again.open()
    assert again.depth == 4
    assert any(e["event"] == "spool_garbage_skipped" for e in logs)
    await again.append(make_event(5))
    expected = [str(make_event(i).event_key) for i in (0, 1, 2, 3, 5)]
    assert await drain_all(again) == expected
    await again.close()


async def test_corrupt_record_in_the_middle_is_skipped_not_misread(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    await spool.open()
    for i in range(5):
        await spool.append(make_event(i))
    await spool.close()
    (seg,) = segments(tmp_path)
    data = bytearray(seg.read_bytes())
    record_len = len(frame(encode_event(make_event(0))))
    data[2 * record_len + HEADER.size + 3] ^= 0x01  # one bit of the third record's payload
    seg.write_bytes(bytes(data))

    again = Spool(tmp_path)
    await again.open()
    assert again.depth == 4
    assert await drain_all(again) == [str(make_event(i).event_key) for i in (0, 1, 3, 4)]
    await again.close()


async def test_bound_refuses_and_warns(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=5, warn_ratio=0.6)
    await spool.open()
    with capture_logs() as logs:
        for i in range(5):
            await spool.append(make_event(i))
        with pytest.raises(SpoolFullError) as refused:
            await spool.append(make_event(5))
    assert refused.value.reason == "spool_full"
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["spool_near_full"]
    assert any(e["event"] == "spool_full" and e["log_level"] == "error" for e in logs)
    # Draining makes room again; the refused event was never stored.
    assert len(await drain_all(spool)) == 5
    await spool.append(make_event(6))
    assert await drain_all(spool) == [str(make_event(6).event_key)]
    await spool.close()


async def test_segments_roll_and_are_deleted_only_after_commit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1024)
    await spool.open()
    for i in range(60):
        await spool.append(make_event(i))
    assert len(segments(tmp_path)) > 5
    batch = await spool.read_batch(30)
    assert len(segments(tmp_path)) > 5  # read is not enough
    await spool.commit(batch)
    checkpoint = Checkpoint(tmp_path / CHECKPOINT).load()
    assert checkpoint is not None
    remaining = segments(tmp_path)
    assert all(int(p.name[4:-4]) >= checkpoint.segment for p in remaining)
    assert await drain_all(spool, limit=100) == [
        str(make_event(i).event_key) for i in range(30, 60)
    ]
    assert len(segments(tmp_path)) == 1  # only the segment still open for appends
    await spool.close()


async def test_dead_letter_is_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    await spool.open()
    await spool.append(make_event(1))
    batch = await spool.read_batch(10)
    await spool.dead_letter(batch.records[0], "no person with uid ana")
    await spool.commit(batch)
    await spool.close()
    lines = (tmp_path / DEAD_LETTER).read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["event_key"] == str(make_event(1).event_key)
    assert entry["reason"] == "no person with uid ana"
    again = Spool(tmp_path)
    await again.open()
    assert again.dead_letters == 1 and again.depth == 0
    await again.close()


async def test_full_disk_refuses_honestly_and_keeps_what_was_acknowledged(
    small_fs: Path,
) -> None:
    spool = Spool(small_fs / "spool")
    await spool.open()
    acknowledged: list[str] = []
    with capture_logs() as logs, pytest.raises(SpoolError) as refused:
        for i in range(100_000):
            await spool.append(make_event(i))
            acknowledged.append(str(make_event(i).event_key))
    assert refused.value.reason == "disk_full"
    assert "No space left on device" in str(refused.value)
    assert any(e["event"] == "spool_write_failed" and e["reason"] == "disk_full" for e in logs)
    assert len(acknowledged) > 100
    await spool.close()
    # After a restart exactly the acknowledged events are there, in order.
    again = Spool(small_fs / "spool")
    await again.open()
    assert await drain_all(again, limit=5000) == acknowledged
    await again.close()


async def test_read_only_disk_refuses_honestly(small_fs: Path) -> None:
    # A filesystem that turned read-only (ext4 errors=remount-ro) under a restarted
    # daemon: the spool still opens and reads, and refuses new events honestly.
    spool = Spool(small_fs / "spool")
    await spool.open()
    await spool.append(make_event(0))
    await spool.close()
    remount(small_fs, "ro")
    try:
        again = Spool(small_fs / "spool")
        await again.open()
        with capture_logs() as logs, pytest.raises(SpoolError) as refused:
            await again.append(make_event(1))
        assert refused.value.reason == "read_only"
        assert any(e["event"] == "spool_write_failed" for e in logs)
        batch = await again.read_batch(10)
        assert [r.event for r in batch.records] == [make_event(0)]
        with pytest.raises(SpoolError):
            await again.commit(batch)  # nothing is marked replayed that could be lost
        await again.close()
    finally:
        remount(small_fs, "rw")
    last = Spool(small_fs / "spool")
    await last.open()
    assert last.depth == 1
    await last.close()


async def test_one_process_per_spool(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    await first.open()
    second = Spool(tmp_path)
    with pytest.raises(SpoolLockedError) as refused:
        await second.open()
    assert str(os.getpid()) in str(refused.value)
    await first.close()
    await second.open()  # the lock went with the first spool
    await second.close()


async def test_checkpoint_survives_a_torn_slot(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with capture_logs() as logs:
        await spool.open()  # a fresh spool is not a damaged one
    assert not [e for e in logs if e["log_level"] == "error"]
    for i in range(6):
        await spool.append(make_event(i))
    for _ in range(2):  # two commits: both slots written, the newer one says 4
        await spool.commit(await spool.read_batch(2))
    await spool.close()
    path = tmp_path / CHECKPOINT
    data = bytearray(path.read_bytes())
    size = Checkpoint.SLOT.size
    newer = 0 if data[4:12] > data[size + 4 : size + 12] else size
    data[newer + 20] ^= 0xFF  # a power cut tore the newest slot
    path.write_bytes(bytes(data))
    again = Spool(tmp_path)
    await again.open()
    # The older slot is used: two events are replayed again (harmless), none is lost.
    assert again.depth == 4
    assert await drain_all(again) == [str(make_event(i).event_key) for i in range(2, 6)]
    await again.close()


_RECORDS = [
    frame(encode_event(make_event(i, reader=("entrance", "exit")[i % 2]))) for i in range(8)
]


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, sum(map(len, _RECORDS))), flip=st.none() | st.integers(0, 10_000))
def test_power_cut_or_bit_flip_never_misreads(cut: int, flip: int | None) -> None:
    """Whatever a torn write or a flipped bit does, what is read back is some of the
    events that were written, in their order, each whole; a cut alone keeps every
    record written completely before it."""
    data = bytearray(b"".join(_RECORDS)[:cut])
    if flip is not None and data:
        data[flip % len(data)] ^= 1 << (flip % 8)
    parsed = parse_records(bytes(data), final=True)
    got = [decode_event(p) for _, p in parsed.records]
    written = [decode_event(r[HEADER.size :]) for r in _RECORDS]
    positions = [written.index(e) for e in got]
    assert positions == sorted(set(positions))
    if flip is None:
        complete, total = 0, 0
        for record in _RECORDS:
            total += len(record)
            complete += total <= cut
        assert got == written[:complete]
        assert parsed.consumed == cut
