"""A spool written by the release before the spool was split in layers replays, and
the spool writes the very same bytes now (segment, checkpoint, high-water mark)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from structlog.testing import capture_logs

from gateway.domain import ClockEvent, Direction, Outcome
from gateway.durable.spool import Spool


def _event(n: int) -> ClockEvent:
    return ClockEvent(
        event_key=uuid.UUID(int=0x12345678123456789ABCDEF012345600 + n),
        person_uid=f"P-{n:04d}",
        card_key="04a1b2c3d4",
        direction=Direction.IN if n % 2 == 0 else Direction.OUT,
        reader="entrance",
        reader_hw_id=None if n == 3 else "cafe01",
        received_at=datetime(2026, 3, 2, 8, 59, 1, 123456, tzinfo=UTC) + timedelta(seconds=n),
        outcome=Outcome.RECORDED,
        gateway_id="hall-a",
    )


def _record(seq: int, crc_and_length: str) -> bytes:
    n = seq - 1
    hw = b'"cafe01"' if n != 3 else b"null"
    direction = b"in" if n % 2 == 0 else b"out"
    return (
        bytes.fromhex(crc_and_length)
        + b'[2,%d,"12345678123456789abcdef0123456%02d","P-%04d","04a1b2c3d4","%s",'
        % (seq, n, n, direction)
        + b'"entrance",%s,%d,"recorded","hall-a"]' % (hw, 1772441941123456 + n * 1_000_000)
    )


# Four events appended, then a batch of two read and committed, by the old code.
SEGMENT = (
    _record(1, "c5700000007c38eefbd0")
    + _record(2, "c5700000007d35f65fbd")
    + _record(3, "c5700000007c99adaa99")
    + _record(4, "c57000000079cba71ce1")
)
# Slot 0 never written; slot 1: CKP2, slot sequence 1, segment 1, offset 269 (two
# records), last replayed record 2, CRC.
CHECKPOINT = bytes(40) + bytes.fromhex(
    "434b503200000000000000010000000000000001000000000000010d000000000000000225b62efe"
)
APPENDED = bytes.fromhex("48574d310000000000000004495c535e")  # HWM1, record 4, CRC


async def test_a_spool_of_the_earlier_release_replays(tmp_path: Path) -> None:
    (tmp_path / "seg-000000000001.log").write_bytes(SEGMENT)
    (tmp_path / "checkpoint").write_bytes(CHECKPOINT)
    (tmp_path / "appended").write_bytes(APPENDED)
    spool = Spool(tmp_path, gateway_id="hall-a")
    with capture_logs() as logs:
        await spool.open()
    assert [e["event"] for e in logs if e["log_level"] == "error"] == []
    assert spool.depth == 2
    batch = await spool.read_batch(10)
    assert [r.event for r in batch.records] == [_event(2), _event(3)]
    assert batch.last_seq == 4
    await spool.commit(batch)
    assert spool.depth == 0
    await spool.close()


async def test_the_spool_writes_the_bytes_of_the_earlier_release(tmp_path: Path) -> None:
    spool = Spool(tmp_path, gateway_id="hall-a")
    await spool.open()
    for n in range(4):
        await spool.append(_event(n))
    await spool.commit(await spool.read_batch(2))
    await spool.close()
    assert (tmp_path / "seg-000000000001.log").read_bytes() == SEGMENT
    assert (tmp_path / "checkpoint").read_bytes() == CHECKPOINT
    assert (tmp_path / "appended").read_bytes() == APPENDED
