"""`clock-gateway demo --web`: a live board with the daemon and the readers running,
taps typed in the terminal, commands printed as they can be typed, and Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.kit.harness import REPO_ROOT
from gateway.cli.demo import invoked_as
from gateway.cli.demo_taps import parse_line
from gateway.errors import InvalidInputError
from gateway.store.models import PersonRow
from tests.support.wait import Deadline, wait_until
from tests.web.stack import free_port

pytestmark = pytest.mark.e2e


class Demo:
    """The demo as a child process: its stdout read in a thread, its stdin for taps."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_line(self, pattern: str, timeout_s: float) -> str:
        deadline = Deadline(timeout_s, f"a line matching {pattern!r}")
        while True:
            try:
                line = self._queue.get(timeout=max(deadline.left, 0.01))
            except queue.Empty:
                deadline.check("".join(self.lines[-20:]))
                continue
            if line is None:
                raise AssertionError(f"the demo ended first: {''.join(self.lines)}")
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """Kill the demo and the daemon it started (only a failed test gets here)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        self.proc.kill()
        self.proc.wait(10)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def demo_web() -> Iterator[tuple[Demo, str]]:
    port = free_port()
    demo = Demo("--web", "--port", str(port), "--pause", "0")
    try:
        yield demo, f"http://127.0.0.1:{port}/"
    finally:
        if demo.proc.poll() is None:
            demo.kill()


def board(url: str) -> dict[str, Any]:
    """The board's data, as the page gets it at load (the same JSON its stream sends)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        page = response.read().decode()
    found = re.search(r'<script type="application/json" id="board-config">(.*?)</script>', page)
    assert found, page[:500]
    data = json.loads(found.group(1))["initial"]
    assert isinstance(data, dict)
    return data


def names(data: dict[str, Any], part: str) -> set[str]:
    return {row["name"] for row in data[part]}


def test_demo_web_keeps_the_daemon_running_and_taps_from_the_terminal(
    demo_web: tuple[Demo, str],
) -> None:
    demo, url = demo_web
    demo.wait_line(r"the live board: ", 120)
    admin_line = demo.wait_line(r" admins add YOURNAME --config ", 10)
    assert "Ana García" in names(board(url), "present")  # back for the afternoon

    demo.type("out ana")
    demo.wait_line(r"exit +Ana García +04A1B2C3 +OK +LCD \[Out - Ana Garcia", 20)
    wait_until(lambda: "Ana García" in names(board(url), "absent"), 20, "Ana out on the board")
    demo.type("luis")
    demo.wait_line(r"entrance +Luis Núñez +04B2C3D4E5F601 +OK +LCD \[In - Luis Nunez", 20)
    wait_until(lambda: "Luis Núñez" in names(board(url), "present"), 20, "Luis in on the board")
    demo.type("nobody-here")
    demo.wait_line(r"nobody called 'nobody-here'", 10)
    demo.type("new")
    demo.wait_line(r"entrance +\(new card\) +04[0-9A-F]{6} +KO +LCD \[Unknown card", 20)

    # The printed command works as printed (here: the venv's script, by its full path).
    command = shlex.split(admin_line.strip().replace("YOURNAME", "office"))
    assert Path(command[0]).is_absolute() or command[0] == "clock-gateway", command
    done = subprocess.run(
        [*command, "--password-stdin"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(30) == 0, "".join(demo.lines)
    demo.wait_line(r"daemon stopped cleanly", 10)
    taps = "".join(demo.lines)
    assert "luis   in   entrance  recorded" in taps.split("what the database now holds")[1]


def test_demo_web_says_the_port_is_taken_before_playing_the_morning() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "demo", "--web", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO_ROOT,
            check=False,
        )
    assert done.returncode == 2
    assert done.stdout == ""  # no morning played
    assert done.stderr.strip().splitlines() == [
        f"clock-gateway: error: cannot listen on 127.0.0.1:{port}: Address already in use: "
        "choose another port with --port N"
    ]


def test_the_program_is_named_as_it_can_be_typed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "clock-gateway"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["venv/bin/clock-gateway", "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invoked_as() == str(script)  # not on PATH: its full path
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert invoked_as() == "clock-gateway"  # what PATH finds
    monkeypatch.setattr(sys, "argv", ["/x/gateway/__main__.py", "demo"])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "elsewhere" / "python"))
    assert invoked_as() == f"{tmp_path / 'elsewhere' / 'python'} -m gateway"


PEOPLE = [
    PersonRow("ana", "Ana García", True, ["04A1B2C3"]),
    PersonRow("ana.lopez", "Ana López", True, ["04D1D2D3"]),
    PersonRow("luis", "Luis Núñez", True, ["04B2C3D4E5F601"]),
    PersonRow("pau", "Pau Soler", True, []),
]


@pytest.mark.parametrize(
    ("line", "direction", "key", "who"),
    [
        ("ana", "in", "04A1B2C3", "Ana García"),  # the uid beats the first name
        ("out luis", "out", "04B2C3D4E5F601", "Luis Núñez"),
        ("OUT luis nunez", "out", "04B2C3D4E5F601", "Luis Núñez"),
        ("in Luis", "in", "04B2C3D4E5F601", "Luis Núñez"),
        ("04:d1:d2:d3", "in", "04D1D2D3", "Ana López"),
        ("out 0A0B0C0D", "out", "0A0B0C0D", "(unknown card)"),
    ],
)
def test_a_typed_line_names_a_tap(line: str, direction: str, key: str, who: str) -> None:
    tap = parse_line(line, PEOPLE)
    assert tap is not None
    assert (tap.direction, tap.card_key, tap.who) == (direction, key, who)


def test_new_is_a_card_nobody_holds_and_bad_lines_say_why() -> None:
    tap = parse_line("new", PEOPLE)
    assert tap is not None and re.fullmatch(r"04[0-9A-F]{6}", tap.card_key)
    assert parse_line("   ", PEOPLE) is None
    for line, reason in (
        ("ghost", "nobody called 'ghost'"),
        ("pau", "Pau Soler has no card"),
        ("out", "out whom?"),
    ):
        with pytest.raises(InvalidInputError, match=reason):
            parse_line(line, PEOPLE)


def test_a_killed_demo_takes_its_daemon_with_it(demo_web: tuple[Demo, str]) -> None:
    """SIGKILL leaves the demo no time to stop its daemon: the parent-death signal
    must, or the orphan goes on reopening its readers' /dev/pts paths, which the
    kernel hands to the next pseudo-terminals anyone opens."""
    demo, _ = demo_web
    demo.wait_line(r"the live board: ", 120)
    children = Path(f"/proc/{demo.proc.pid}/task/{demo.proc.pid}/children")
    daemons = [
        int(p)
        for p in children.read_text().split()
        if b"run\0--config" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    assert len(daemons) == 1, daemons
    demo.proc.kill()
    demo.proc.wait(10)

    def gone() -> bool:
        try:
            state = Path(f"/proc/{daemons[0]}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        return state == "Z"  # exited; only its reaping is left (to init)

    wait_until(gone, 30, "the daemon to end with the demo")
