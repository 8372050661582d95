"""The real clock_reader firmware in the simavr harness (firmware/sim/clock_sim).

`Sim` runs build/sim/clock_sim on the compiled ELF and parses its event lines
(LCD, LED, BUZZER, CARD, TX, RX, ...). Shared by the firmware tests
(tests/firmware/, which add a fake gateway on the PTY) and by
bench/tap_screen.py (the real daemon on the PTY); bench/ must not import tests/,
so the driver lives here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # bench/kit/ -> the checkout
FIRMWARE = ROOT / "firmware"
ELF = FIRMWARE / "build" / "uno" / "clock_reader.ino.elf"
SIM = FIRMWARE / "build" / "sim" / "clock_sim"


def missing_tools() -> str | None:
    """Why the firmware can't be built here, or None. CI installs all of these."""
    for tool, pkg in (
        ("avr-gcc", "gcc-avr"),
        ("arduino-builder", "arduino-builder"),
        ("avr-size", "binutils-avr"),
        ("pkg-config", "pkg-config"),
        ("cc", "gcc"),
    ):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian package {pkg})"
    if not Path("/usr/share/arduino/hardware/arduino/avr").is_dir():
        return "Arduino AVR core not installed (Debian package arduino-core-avr)"
    if subprocess.run(["pkg-config", "--exists", "simavr", "simavrparts"]).returncode != 0:
        return "libsimavr not installed (Debian packages libsimavr-dev libelf-dev)"
    return None


def build() -> None:
    """Build the .elf/.hex and the harness (make does nothing if up to date)."""
    r = subprocess.run(
        ["make", "-C", str(FIRMWARE), "hex", "sim"], capture_output=True, text=True, timeout=600
    )
    if r.returncode != 0:
        raise RuntimeError(f"firmware build failed:\n{r.stdout}\n{r.stderr}")


@dataclass(frozen=True)
class Event:
    kind: str  # LCD, LED, BUZZER, CARD, ROLE, RESET, TIME, BYE, ERROR, PTY
    t: float  # simulated milliseconds (0 for PTY/ERROR)
    args: tuple[str, ...]
    line: str


_LCD_RE = re.compile(r"^LCD (\S+) \|(.{16})\|(.{16})\|$")


class Sim:
    """One simulated reader board."""

    def __init__(
        self,
        tmp: Path,
        role: str = "in",
        eeprom: Path | None = None,
        seed: int | None = None,
        trace: bool = False,
    ) -> None:
        self.eeprom = eeprom if eeprom is not None else tmp / "eeprom.bin"
        args = [str(SIM), "--role", role, "--eeprom", str(self.eeprom)]
        if seed is not None:
            args += ["--seed", str(seed)]
        if trace:
            args.append("--trace")  # TX/RX stamps of the UART (bench/tap_screen.py)
        self._stderr = open(tmp / f"clock_sim.{os.getpid()}.{id(self)}.err", "w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*args, str(ELF)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.events: list[Event] = []
        self.stack_bytes: int | None = None  # deepest stack use, known after close()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        pty = self.wait(lambda e: e.kind == "PTY", timeout=10)
        self.pty = pty.args[0]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            m = _LCD_RE.match(line)
            if m:
                ev = Event("LCD", float(m.group(1)), (m.group(2), m.group(3)), line)
            else:
                parts = line.split()
                if not parts:
                    continue
                kind = parts[0]
                if kind in ("PTY", "ERROR"):
                    ev = Event(kind, 0.0, tuple(parts[1:]), line)
                else:
                    try:
                        t = float(parts[1])
                    except (IndexError, ValueError):
                        t = 0.0
                    ev = Event(kind, t, tuple(parts[2:]), line)
            with self._cond:
                self.events.append(ev)
                self._cond.notify_all()

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def card(self, uid_hex: str) -> Event:
        n = len(self.events)
        self.command(f"card {uid_hex}")
        return self.wait(lambda e: e.kind in ("CARD", "ERROR"), since=n)

    def nocard(self) -> Event:
        n = len(self.events)
        self.command("nocard")
        return self.wait(lambda e: e.kind == "CARD", since=n)

    def now(self) -> float:
        """Current simulated time in ms."""
        n = len(self.events)
        self.command("time")
        return self.wait(lambda e: e.kind == "TIME", since=n).t

    def wait(self, pred: Callable[[Event], bool], timeout: float = 10.0, since: int = 0) -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no matching simulator event within {timeout} s; last events:\n"
                        + "\n".join(e.line for e in self.events[-15:])
                        + "\nstderr:\n"
                        + self.stderr()
                    )
                self._cond.wait(min(left, 0.2))

    def wait_lcd(
        self, row0: str, row1: str | None = None, timeout: float = 10.0, since: int = 0
    ) -> Event:
        """Wait for a screen whose rows start with the given texts."""

        def match(e: Event) -> bool:
            return (
                e.kind == "LCD"
                and e.args[0].startswith(row0)
                and (row1 is None or e.args[1].startswith(row1))
            )

        return self.wait(match, timeout, since)

    def lcd(self) -> tuple[str, str]:
        with self._cond:
            for ev in reversed(self.events):
                if ev.kind == "LCD":
                    return ev.args[0], ev.args[1]
        return ("", "")

    def of_kind(self, kind: str, since: int = 0) -> list[Event]:
        with self._cond:
            return [e for e in self.events[since:] if e.kind == kind]

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def stderr(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-3000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(timeout=5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self._stderr.close()
        bye = self.of_kind("BYE")
        if bye and len(bye[-1].args) == 2 and bye[-1].args[0] == "stack":
            self.stack_bytes = int(bye[-1].args[1])

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
