"""Two daemons on one state directory: the second refuses to start, clearly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.kit.harness import DaemonProcess
from bench.kit.rig import Rig

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


async def test_second_daemon_on_the_same_spool_refuses(pg_url: str, tmp_path: Path) -> None:
    rig = Rig(tmp_path, pg_url)
    await rig.seed()
    await rig.start_readers()
    try:
        await rig.start_daemon()
        first_pid = rig.daemon.proc.pid if rig.daemon and rig.daemon.proc else None
        # The same configuration started again, as a second systemd unit or by hand.
        other = DaemonProcess(rig.config).start()
        code = await asyncio.to_thread(other.wait, 30)
        assert code != 0
        message = "\n".join(other.stderr_lines)
        assert f"another clock-gateway (pid {first_pid}) is using the spool" in message
        assert "Traceback" not in message
        # The first one is undisturbed.
        tap = await rig.tap("entrance")
        assert tap.status is not None and tap.status.name == "OK"
        assert await rig.stop_daemon() == 0
    finally:
        await rig.close()
