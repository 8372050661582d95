"""The emulator against the real daemon (`clock-gateway run` as a subprocess, PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.kit.harness import DaemonProcess, seed, write_config
from gateway.emulator import VirtualReader
from gateway.protocol import Role, Status

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(120)]

ANA = bytes.fromhex("04A1B2C3")


async def _session(tmp_path: Path, pg_url: str) -> None:
    entrance = VirtualReader(
        Role.IN, name="entrance", link_path=tmp_path / "in", reset_on_open=True
    )
    exit_ = VirtualReader(Role.OUT, name="exit", link_path=tmp_path / "out")
    await entrance.start()
    await exit_.start()
    cfg = write_config(
        tmp_path / "c.toml",
        database_url=pg_url,
        state_dir=tmp_path / "state",
        readers=[("entrance", entrance.port, "in"), ("exit", exit_.port, "out")],
    )
    daemon = DaemonProcess(cfg).start()
    try:
        await asyncio.to_thread(daemon.wait_ready)
        await asyncio.wait_for(asyncio.gather(entrance.wait_online(), exit_.wait_online()), 20)
        assert entrance.opens >= 1  # the daemon flushed its input on open, as specified

        result = await entrance.tap(ANA)
        assert result.status is Status.OK and "Ana" in result.text, result
        assert result.sends == 1
        unknown = await exit_.tap(bytes.fromhex("04112233445566"))
        assert unknown.status is Status.KO

        # Garbage on the line costs nothing but the garbage.
        exit_.send_raw(b"\x13\x37 noise \x00" + bytes(range(1, 120)) + b"\x00")
        out = await exit_.tap(ANA)
        assert out.status is Status.OK and "Ana" in out.text

        # Pull the exit reader's cable and plug it back: the daemon finds it again.
        mark = daemon.mark()
        await exit_.unplug()
        await asyncio.to_thread(daemon.wait_event, "link_down", 20, after=mark, reader="exit")
        await exit_.replug()
        await exit_.wait_online(20)
        again = await exit_.tap(ANA, timeout=15)
        assert again.status is not None
    finally:
        await asyncio.to_thread(daemon.stop)
        await entrance.close()
        await exit_.close()


def test_emulated_readers_against_the_daemon(tmp_path: Path, pg_url: str) -> None:
    seed(pg_url, [("ana", "Ana", "04A1B2C3")])
    asyncio.run(_session(tmp_path, pg_url))
