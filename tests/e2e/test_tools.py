"""The people-facing tools: demo, monitor, ports."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from bench.kit.harness import REPO_ROOT, run_cli
from gateway.emulator import VirtualReader

pytestmark = pytest.mark.e2e


def test_demo_plays_the_morning_and_exits_zero() -> None:
    result = run_cli("demo", "--pause", "0", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "LCD [In - Ana Garcia |" in out
    assert "LCD [Already recorded|Ana Garcia      ]" in out
    assert "KO  LCD [Unknown card    |04C0FFEE        ]" in out
    assert "LCD [In - Marta Ruiz |" in out
    assert "LCD [Out - Luis Nunez|" in out
    assert out.count("  recorded\n") == 6 and out.count("entrance  duplicate\n") == 1
    assert "Traceback" not in result.stderr


def test_ports_lists_json() -> None:
    result = run_cli("ports", "--json")
    assert result.returncode == 0
    ports = json.loads(result.stdout)
    assert isinstance(ports, list)
    assert all({"device", "by_id", "description"} <= set(p) for p in ports)


def test_monitor_shows_both_directions_when_responding(tmp_path: Path) -> None:
    async def go() -> tuple[int, str, str]:
        async with VirtualReader("in", name="r1", link_path=tmp_path / "r1") as reader:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", "monitor", str(tmp_path / "r1"),
                "--respond", "in", "--seconds", "2", "--json",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
            )  # fmt: skip
            await reader.wait_online(10)
            tap = await reader.tap(bytes.fromhex("04A1B2C3"))
            assert tap.text == "Monitor only\nNot recorded"
            reader.send_raw(b"\x01\x02\x03\x00")
            out, err = await proc.communicate()
            return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = asyncio.run(go())
    assert code == 0, err
    frames = [json.loads(line) for line in out.splitlines()]
    seen = [(f["dir"], f["type"]) for f in frames]
    for expected in [("rx", "HELLO"), ("tx", "HELLOACK"), ("rx", "SWIPE"), ("tx", "RESULT")]:
        assert expected in seen
    assert any(f["type"] == "INVALID" and "BAD_FRAMING" in f["error"] for f in frames)
    swipe = next(f for f in frames if f["type"] == "SWIPE")
    assert swipe["uid"] == "04A1B2C3" and swipe["seq"] == 1


def test_monitor_on_a_missing_port_is_one_line(tmp_path: Path) -> None:
    result = run_cli("monitor", str(tmp_path / "nothing"), "--seconds", "1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"clock-gateway: error: cannot open {tmp_path / 'nothing'}: no such device (unplugged?)"
    ]
