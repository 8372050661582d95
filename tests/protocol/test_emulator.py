"""The PTY emulator against a minimal gateway loop in the same process."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path

import pytest

from gateway.emulator import VirtualReader, parse_role
from gateway.protocol import DecodeError, Role, Status
from tests.protocol.minigateway import MiniGateway
from tests.support.wait import wait_until_async

ANA = bytes.fromhex("04A1B2C3")
KNOWN = {"04A1B2C3": "Ana"}

pytestmark = pytest.mark.timeout(60)


async def _online_pair(tmp_path: Path) -> tuple[VirtualReader, MiniGateway]:
    reader = VirtualReader(Role.IN, name="entrance", link_path=tmp_path / "reader0")
    await reader.start()
    gw = MiniGateway(reader.port, known=dict(KNOWN))
    gw.open()
    await reader.wait_online(5)
    return reader, gw


async def _tap_known_and_unknown_cards(tmp_path: Path) -> None:
    reader, gw = await _online_pair(tmp_path)
    try:
        assert os.path.realpath(reader.port) == reader.pty_path
        assert reader.lcd == ["Idle", ""]
        result = await reader.tap(ANA)
        assert result.status is Status.OK and result.text == "In - Ana" and result.sends == 1
        assert result.ok and result.latency_s < 3.0  # generous: shared, loaded test machines
        assert reader.lcd == ["In - Ana", ""]
        result = await reader.tap(bytes.fromhex("04112233445566"))
        assert result.status is Status.KO and result.text == "Unknown card"
        assert [s[1:] for s in gw.swipes_recorded] == [(1, "04A1B2C3"), (2, "04112233445566")]
        assert reader.hellos_sent >= 1 and reader.frames_received >= 3
        assert reader.opens == 1
    finally:
        gw.close()
        await reader.close()
    assert not (tmp_path / "reader0").exists()


async def _lost_swipe_is_retransmitted_with_the_same_seq(tmp_path: Path) -> None:
    reader, gw = await _online_pair(tmp_path)
    try:
        gw.drop_swipes = 1
        result = await reader.tap(ANA)
        assert result.status is Status.OK and result.sends == 2
        assert 0.9 < result.latency_s < 3.5  # one retry slot, not a give-up (6 s)
        assert len(gw.swipes_recorded) == 1
    finally:
        gw.close()
        await reader.close()


async def _garbage_on_the_line_does_not_break_the_link(tmp_path: Path) -> None:
    reader, gw = await _online_pair(tmp_path)
    try:
        reader.send_raw(b"\xff\xfe garbage \x01\x02\x00" + bytes(range(1, 200)) + b"\x00")
        result = await reader.tap(ANA)
        assert result.status is Status.OK
        errors = [i for i in gw.received if isinstance(i, DecodeError)]
        assert len(errors) == 2
    finally:
        gw.close()
        await reader.close()


async def _unplug_and_replug_keeps_the_session_and_the_pending_swipe(
    tmp_path: Path,
) -> None:
    reader, gw = await _online_pair(tmp_path)
    try:
        session = reader.session
        gw.drop_swipes = 1  # the first send is lost, then the cable is pulled
        tap = asyncio.create_task(reader.tap(ANA))
        await wait_until_async(
            lambda: gw.drop_swipes == 0, 10, "the first SWIPE to reach the gateway (and be lost)"
        )
        await reader.unplug()
        assert not (tmp_path / "reader0").exists()
        await asyncio.wait_for(gw.closed_by_peer.wait(), 2)
        await reader.replug()
        gw.open()  # a fresh gateway link: it has not seen HELLO yet
        result = await tap
        assert result.status is Status.OK and result.sends >= 2
        assert reader.session == session
        assert reader.naks_received >= 1 or reader.hellos_sent >= 2
        assert gw.swipes_recorded == [(session, 1, "04A1B2C3")]
    finally:
        gw.close()
        await reader.close()


async def _reset_on_open_starts_a_new_session(tmp_path: Path) -> None:
    reader = VirtualReader("in", link_path=tmp_path / "r", session=7, reset_on_open=True)
    await reader.start()
    gw = MiniGateway(reader.port)
    try:
        gw.open()
        await reader.wait_online(5)
        assert reader.session != 7 and reader.opens == 1
    finally:
        gw.close()
        await reader.close()


async def _gives_up_without_an_answer_and_never_shows_ok(tmp_path: Path) -> None:
    reader, gw = await _online_pair(tmp_path)
    try:
        gw.close()  # the gateway stops reading: no RESULT will ever come
        result = await reader.tap(ANA, timeout=0.5)
        assert result.status is None
    finally:
        await reader.close()


async def _many_readers_in_one_process_use_no_busy_loop(tmp_path: Path) -> None:
    count = 48
    readers = [VirtualReader(Role.OUT, name=f"r{i}") for i in range(count)]
    gateways: list[MiniGateway] = []
    try:
        for reader in readers:
            await reader.start()
            gw = MiniGateway(reader.port, known=dict(KNOWN))
            gw.open()
            gateways.append(gw)
        await asyncio.wait_for(asyncio.gather(*(r.wait_online() for r in readers)), 10)
        results = await asyncio.gather(*(r.tap(ANA) for r in readers))
        assert all(r.status is Status.OK for r in results)
        # Idle for a second: heartbeats only. CPU time stays far below the wall time.
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        await asyncio.sleep(1.0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert cpu < 0.5 * (time.monotonic() - start)
        assert all(r.online for r in readers)
    finally:
        for gw in gateways:
            gw.close()
        for reader in readers:
            await reader.close()


def test_parse_role() -> None:
    assert parse_role("IN") is Role.IN and parse_role(Role.OUT) is Role.OUT
    with pytest.raises(ValueError, match="role"):
        parse_role("sideways")


def test_tap_known_and_unknown_cards(tmp_path: Path) -> None:
    asyncio.run(_tap_known_and_unknown_cards(tmp_path))


def test_lost_swipe_is_retransmitted_with_the_same_seq(tmp_path: Path) -> None:
    asyncio.run(_lost_swipe_is_retransmitted_with_the_same_seq(tmp_path))


def test_garbage_on_the_line_does_not_break_the_link(tmp_path: Path) -> None:
    asyncio.run(_garbage_on_the_line_does_not_break_the_link(tmp_path))


def test_unplug_and_replug_keeps_the_session_and_the_pending_swipe(tmp_path: Path) -> None:
    asyncio.run(_unplug_and_replug_keeps_the_session_and_the_pending_swipe(tmp_path))


def test_reset_on_open_starts_a_new_session(tmp_path: Path) -> None:
    asyncio.run(_reset_on_open_starts_a_new_session(tmp_path))


def test_gives_up_without_an_answer_and_never_shows_ok(tmp_path: Path) -> None:
    asyncio.run(_gives_up_without_an_answer_and_never_shows_ok(tmp_path))


def test_many_readers_in_one_process_use_no_busy_loop(tmp_path: Path) -> None:
    asyncio.run(_many_readers_in_one_process_use_no_busy_loop(tmp_path))


async def _offline_when_the_gateway_goes_quiet(tmp_path: Path) -> None:
    reader, gw = await _online_pair(tmp_path)
    try:
        gw.close()  # silence: gone after 3.5 heartbeat intervals
        started = asyncio.get_running_loop().time()
        await reader.wait_offline(6)
        assert 3.0 < asyncio.get_running_loop().time() - started < 6.0
        assert reader.lcd == ["Offline", "Please wait"]
    finally:
        await reader.close()


def test_offline_when_the_gateway_goes_quiet(tmp_path: Path) -> None:
    asyncio.run(_offline_when_the_gateway_goes_quiet(tmp_path))
