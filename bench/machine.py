"""What a result was measured on: the machine, the date and the code."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def describe() -> dict[str, Any]:
    """nproc, CPU model, memory, load, kernel, Python, date (UTC) and git commit."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short=12", "HEAD"),
        "tree_dirty": bool(status) if status is not None else None,
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _memory_mb(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def summary(info: dict[str, Any]) -> str:
    dirty = " (uncommitted changes)" if info.get("tree_dirty") else ""
    return (
        f"{info['date']}  commit {info['commit']}{dirty}  "
        f"{info['nproc']} x {info['cpu_model']}, {info['memory_mb']} MB RAM, "
        f"load {info['load_avg_1m']}  Python {info['python']}  Linux {info['kernel']}"
    )
