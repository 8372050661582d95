"""Hop stamps of each swipe, for the latency benchmark's `--trace` mode.

Off unless the process starts with CLOCK_GATEWAY_TRACE=FILE in its environment; then
each hop of each swipe (bytes read, frame decoded, handed to the service, queued for
the group writer, statement sent, commit returned, reply written) is stamped with
time.monotonic_ns() into a bounded list kept in memory, and the list is written to
FILE as JSON lines when the process exits. CLOCK_MONOTONIC is one clock for every
process of the machine, so the benchmark can set the reader's own stamps beside them.

Why not log events: one structlog call costs about 33 us, several times a hop's
length, and would measure the logging. Off, a stamp costs one global lookup and a
branch (`if trace.ON:` at each call site).
"""

from __future__ import annotations

import atexit
import json
import os
import time

ENV = "CLOCK_GATEWAY_TRACE"
MAX_STAMPS = 1_000_000  # about 60 MB at most: a benchmark run, not a service's life

_target = os.environ.get(ENV) or None
ON = _target is not None
_stamps: list[tuple[str, str, int]] = []


def stamp(key: str, hop: str, at_ns: int | None = None) -> None:
    """Note that swipe `key` (its event key) reached `hop` now, or at `at_ns`."""
    if len(_stamps) < MAX_STAMPS:
        _stamps.append((key, hop, time.monotonic_ns() if at_ns is None else at_ns))


def _write() -> None:
    if _target is None or not _stamps:
        return
    try:
        with open(_target, "w", encoding="utf-8") as out:
            for key, hop, at_ns in _stamps:
                out.write(json.dumps({"key": key, "hop": hop, "ns": at_ns}) + "\n")
    except OSError:
        pass  # a benchmark aid: a missing trace shows up there, not as an exit error


if ON:
    atexit.register(_write)
