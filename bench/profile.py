"""Where the daemon's time goes: py-spy attached to the daemon during a benchmark.

`python -m bench --profile --only latency` records the daemon of each gateway
benchmark with py-spy (collapsed stacks, idle time excluded) next to the JSON results,
and `python -m bench.profile FILE` prints the functions that use most of the samples,
by self time and by inclusive time. Profiling costs CPU on a small machine, so its
runs are for finding the time, not for the table.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, rate: int = 250) -> subprocess.Popen[bytes] | None:
    """Record `pid` until it exits; None when py-spy is not installed."""
    tool = py_spy()
    if tool is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            tool,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _short(frame: str) -> str:
    """'send (gateway/link/link.py:42)' -> 'gateway/link/link.py:send'."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        if "/gateway/" in path:
            path = "gateway/" + path.split("/gateway/", 1)[1]
    return f"{path}:{m.group('func')}"


def summarize(path: Path, top: int = 20) -> str:
    """The top functions by self and by inclusive samples, as percentages of all samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if total == 0:
        return f"{path}: no samples\n"
    lines = [f"{path.name}: {total} samples (busy time only)", "", "self %  function"]
    lines += [f"{100 * n / total:6.1f}  {name}" for name, n in own.most_common(top)]
    lines += ["", "incl %  function (gateway code and the libraries it calls)"]
    interesting = [
        (name, n)
        for name, n in inclusive.most_common()
        if name.startswith(("gateway/", "sqlalchemy/", "psycopg/", "structlog/", "serial"))
    ]
    lines += [f"{100 * n / total:6.1f}  {name}" for name, n in interesting[:top]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("files", nargs="+", type=Path, help="py-spy raw (collapsed) files")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    for f in args.files:
        print(summarize(f, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
