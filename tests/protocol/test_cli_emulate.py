"""`clock-gateway emulate` as a real subprocess, served by the minimal gateway loop."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from gateway.cli.main import main
from tests.protocol.minigateway import MiniGateway

CLI = [sys.executable, "-m", "gateway"]
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() configures structlog for the process; later tests must not log into a
    stream that pytest has closed."""
    yield
    structlog.reset_defaults()


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI,
        "emulate",
        "--json",
        *args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def _event(
    proc: asyncio.subprocess.Process, wanted: str, timeout: float = 30
) -> dict[str, Any]:
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(timeout):  # the whole wait, however many lines come
            while True:
                line = await proc.stdout.readline()
                assert line, f"emulate exited before {wanted!r}; events: {seen}"
                event: dict[str, Any] = json.loads(line)
                if event["event"] == wanted:
                    return event
                seen.append(event["event"])
    except TimeoutError:
        raise AssertionError(
            f"no {wanted!r} from emulate within {timeout:g} s; events: {seen}"
        ) from None


async def _cards_as_arguments(tmp_path: Path) -> None:
    proc = await _start("--role", "in", "--link", str(tmp_path / "r"), "04A1B2C3", "04:11:22:33")
    started = await _event(proc, "started")
    assert started["port"] == str(tmp_path / "r") and started["pty"].startswith("/dev/pts/")
    gw = MiniGateway(started["port"], known={"04A1B2C3": "Ana"})
    gw.open()
    try:
        first = await _event(proc, "tap")
        second = await _event(proc, "tap")
        assert (first["card"], first["status"], first["lcd"]) == (
            "04A1B2C3",
            "OK",
            ["In - Ana", ""],
        )
        assert (second["status"], second["text"]) == ("KO", "Unknown card")
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        gw.close()


def test_cards_as_arguments(tmp_path: Path) -> None:
    asyncio.run(_cards_as_arguments(tmp_path))


async def _stdin_and_sigterm() -> None:
    proc = await _start("--role", "out")
    assert proc.stdin is not None and proc.stderr is not None
    started = await _event(proc, "started")
    gw = MiniGateway(started["port"], known={"04A1B2C3": "Ana"})
    gw.open()
    try:
        await _event(proc, "online")
        proc.stdin.write(b"not-a-card\n\n04a1b2c3\n")
        await proc.stdin.drain()
        error = await _event(proc, "error")
        assert "not-a-card" in error["message"]
        tap = await _event(proc, "tap")
        assert tap["ok"] is True
        proc.send_signal(signal.SIGTERM)
        await _event(proc, "stopped")
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        assert b"Traceback" not in await proc.stderr.read()
    finally:
        gw.close()


def test_stdin_cards_bad_lines_and_sigterm() -> None:
    asyncio.run(_stdin_and_sigterm())


def test_bad_card_argument_is_one_line_and_exit_7(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", "--role", "in", "12345"]) == 7
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "12345" in err


def test_bad_hardware_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", "--role", "in", "--hardware-id", "0102", "04A1B2C3"]) == 2
    assert "--hardware-id" in capsys.readouterr().err


def test_no_gateway_times_out_with_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulate", "--role", "in", "--timeout", "0.3", "04A1B2C3"]) == 1
    captured = capsys.readouterr()
    assert "no gateway answered HELLO" in captured.err
    assert captured.out.startswith("virtual in reader on /dev/pts/")
