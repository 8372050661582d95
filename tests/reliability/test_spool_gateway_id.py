"""Spool records carry the gateway id; records written before ids existed replay with
this gateway's id."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from gateway.domain import DEFAULT_GATEWAY_ID
from gateway.durable.record import decode_event, encode_event, frame
from gateway.durable.spool import Spool
from tests.reliability.support import make_event


def test_the_gateway_id_round_trips() -> None:
    event = dataclasses.replace(make_event(3), gateway_id="hall-b")
    payload = encode_event(event)
    assert json.loads(payload)[-1] == "hall-b"
    assert decode_event(payload) == event
    assert decode_event(payload, "hall-z") == event  # its own id wins over the default


def _old_payload(n: int) -> bytes:
    """A record as version 1 wrote it before gateway ids: nine fields."""
    fields = json.loads(encode_event(make_event(n)))
    assert len(fields) == 10
    return json.dumps(fields[:9], separators=(",", ":")).encode()


def test_an_old_record_gets_this_gateways_id() -> None:
    old = _old_payload(5)
    assert decode_event(old).gateway_id == DEFAULT_GATEWAY_ID
    assert decode_event(old, "hall-a") == dataclasses.replace(make_event(5), gateway_id="hall-a")


async def test_old_records_in_a_spool_replay_with_the_gateway_id(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    writer = Spool(directory, gateway_id="hall-a")
    await writer.open()
    await writer.append(dataclasses.replace(make_event(1), gateway_id="hall-a"))
    await writer.close()
    # An older gateway left a record behind in the same segment (what an upgrade finds).
    segment = sorted(directory.glob("seg-*.log"))[0]
    with segment.open("ab") as f:
        f.write(frame(_old_payload(2)))
    reader = Spool(directory, gateway_id="hall-a")
    await reader.open()
    try:
        batch = await reader.read_batch(10)
        got = [r.event for r in batch.records]
        assert [e.gateway_id if e else None for e in got] == ["hall-a", "hall-a"]
        assert got[1] == dataclasses.replace(make_event(2), gateway_id="hall-a")
    finally:
        await reader.close()
