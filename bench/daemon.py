"""The daemon under test: a real `clock-gateway run` subprocess with a generated config.

It also reads what the kernel knows about the process (CPU time, peak RSS), which is
how the scale benchmark measures the daemon without touching it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.machine import REPO

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    port: str
    role: str  # "in" or "out"


def _toml_string(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(text)


def render_config(
    db_url: str,
    state_dir: Path,
    readers: Sequence[ReaderSpec],
    *,
    log_level: str = "info",
    heartbeat_ms: int = 1000,
) -> str:
    lines = [
        "[gateway]",
        f"state_dir = {_toml_string(str(state_dir))}",
        f"log_level = {_toml_string(log_level)}",
        f"heartbeat_ms = {heartbeat_ms}",
        "",
        "[database]",
        f"url = {_toml_string(db_url)}",
        "",
    ]
    for r in readers:
        lines += [
            "[[readers]]",
            f"name = {_toml_string(r.name)}",
            f"port = {_toml_string(r.port)}",
            f"role = {_toml_string(r.role)}",
            "",
        ]
    return "\n".join(lines)


class Daemon:
    """One `clock-gateway run` process; its structured log goes to a file."""

    def __init__(self, workdir: Path, db_url: str, readers: Sequence[ReaderSpec]) -> None:
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.config_path = workdir / "config.toml"
        self.log_path = workdir / "daemon.log"
        self.db_url = db_url
        self.readers = list(readers)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(render_config(self.db_url, self.state_dir, self.readers))
        env = dict(os.environ)
        env.pop("CLOCK_GATEWAY_DATABASE_URL", None)  # the generated file decides
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(self.config_path)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the daemon has not been started")
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time the daemon has used so far (/proc/PID/stat)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        # Fields after the parenthesised command name; utime and stime are 14th and 15th.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def memory_mb(self, key: str = "VmHWM") -> float:
        """A /proc/PID/status memory figure in MB: VmHWM is the peak resident set."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"{key} not in /proc/{self.pid}/status")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
