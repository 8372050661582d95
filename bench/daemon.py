"""The daemon under test: a real `clock-gateway run` subprocess with a generated config.

The configuration is written by the daemon harness the end-to-end tests share
(bench/kit/harness.py); the process is started here rather than with the harness's
DaemonProcess because that one parses every log line in a thread of the calling
process, which is the process that times the swipes: here the log goes to a file. It
also reads what the kernel knows about the process (CPU time, peak RSS), which is how
the scale benchmark measures the daemon without touching it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.kit.harness import write_config
from bench.machine import REPO
from gateway.cli.children import die_with_parent
from gateway.trace import ENV as TRACE_ENV

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    port: str
    role: str  # "in" or "out"


class Daemon:
    """One `clock-gateway run` process; its structured log goes to a file."""

    def __init__(
        self,
        workdir: Path,
        db_url: str,
        readers: Sequence[ReaderSpec],
        *,
        gateway_id: str | None = None,
        trace_file: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.trace_file = trace_file  # the hop stamps, written when the daemon exits
        self.gateway_id = gateway_id
        self.state_dir = workdir / "state"
        self.config_path = workdir / "config.toml"
        self.log_path = workdir / "daemon.log"
        self.db_url = db_url
        self.readers = list(readers)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_config(
            self.config_path,
            database_url=self.db_url,
            state_dir=self.state_dir,
            readers=[(r.name, r.port, r.role) for r in self.readers],
            # The service's defaults: info logs (one line per swipe), 1 s heartbeats.
            gateway={
                "log_level": "info",
                "heartbeat_ms": 1000,
                **({"id": self.gateway_id} if self.gateway_id else {}),
            },
        )
        env = dict(os.environ)
        env.pop("CLOCK_GATEWAY_DATABASE_URL", None)  # the generated file decides
        env.pop(TRACE_ENV, None)
        if self.trace_file is not None:
            env[TRACE_ENV] = str(self.trace_file)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "run", "--config", str(self.config_path)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=die_with_parent(),  # an interrupted run leaves no daemon behind
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

    def commonest_error(self) -> str | None:
        """The error line the daemon logged most often (a traceback's last line or a
        JSON event at error level), to say in one line why readers did not come up."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        counts: Counter[str] = Counter()
        for line in text.splitlines():
            stripped = line.strip()
            if (
                re.match(r"^[A-Za-z_.]*(Error|Exception)\b.*:", stripped)
                or '"level": "error"' in stripped
                or '"level":"error"' in stripped
            ):
                counts[stripped[:200]] += 1
        if not counts:
            return None
        line, n = counts.most_common(1)[0]
        return f"{line} (x{n})"

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
