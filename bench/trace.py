"""The `--trace` breakdown of a swipe: the daemon's hop stamps (gateway/trace.py) read
back after the run, and the median time between consecutive hops.

A swipe counts only when every hop was stamped once and in order (the database
route; a spooled swipe has no statement). The reader's own latency (SWIPE written to
RESULT read, by the emulator) minus the daemon's first-to-last hop is the time on the
wire and in the kernel: PTY writes and reads, and the wake-ups of both processes.
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench.rows import Row, ms, percentile, row

# In the order a swipe on the database route passes them.
HOPS = ("read", "decoded", "task", "queued", "sent", "committed", "answered", "written")
WHAT = {
    ("read", "decoded"): "bytes read -> frame decoded",
    ("decoded", "task"): "frame decoded -> swipe task running",
    ("task", "queued"): "task running -> queued for the group writer",
    ("queued", "sent"): "queued -> statement sent",
    ("sent", "committed"): "statement sent -> commit returned",
    ("committed", "answered"): "commit returned -> reply decided",
    ("answered", "written"): "reply decided -> RESULT written",
}


def read_swipes(path: Path) -> list[dict[str, int]]:
    """Per swipe, hop -> monotonic ns; only the swipes with every hop, in order."""
    by_key: dict[str, dict[str, int]] = defaultdict(dict)
    repeated: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            stamp = json.loads(line)
            hops = by_key[stamp["key"]]
            if stamp["hop"] in hops:
                repeated.add(stamp["key"])  # a retransmission: its hops are ambiguous
            hops[stamp["hop"]] = int(stamp["ns"])
    whole = []
    for key, hops in by_key.items():
        if key in repeated or any(h not in hops for h in HOPS):
            continue
        times = [hops[h] for h in HOPS]
        if times == sorted(times):
            whole.append(hops)
    return whole


def hop_rows(prefix: str, path: Path, client_latencies: Sequence[float]) -> list[Row]:
    """Rows of the median between hops, the daemon's share and the rest."""
    if not path.exists():
        return [row(f"{prefix} trace", float("nan"), "", note=f"no trace written at {path}")]
    swipes = read_swipes(path)
    if not swipes:
        return [row(f"{prefix} trace", float("nan"), "", note="no swipe with every hop")]
    rows = []
    for a, b in itertools.pairwise(HOPS):
        gaps = [(s[b] - s[a]) / 1e9 for s in swipes]
        rows.append(
            row(
                f"{prefix} trace: {WHAT[(a, b)]} p50",
                ms(statistics.median(gaps)),
                "ms",
                note=f"p99 {ms(percentile(gaps, 99))} ms over {len(swipes)} swipes",
            )
        )
    inside = [(s["written"] - s["read"]) / 1e9 for s in swipes]
    rows.append(row(f"{prefix} trace: inside the daemon p50", ms(statistics.median(inside)), "ms"))
    if client_latencies:
        outside = statistics.median(client_latencies) - statistics.median(inside)
        rows.append(
            row(
                f"{prefix} trace: outside the daemon p50",
                ms(outside),
                "ms",
                note="the reader's median latency minus the daemon's: PTYs and wake-ups",
            )
        )
    return rows
