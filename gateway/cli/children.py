"""Child processes that end with their parent.

The demo runs the daemon as a child in a session of its own (so that Ctrl-C reaches
the demo, which stops the daemon in its own time). Killed outright, though, the demo
would leave that daemon running, and an orphaned daemon keeps reopening its readers'
paths: symlinks to /dev/pts/N, a number the kernel hands to the next pseudo-terminal
anyone opens, so the orphan takes another program's reader. Linux's parent-death
signal ends the child with its parent whatever killed it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that gives the child `sig` when this process ends; None where
    the system has no parent-death signal (the child then simply outlives it).

    Linux sends it when the *thread* that started the child ends, so only a child
    started from the main thread gets it: from a worker thread (asyncio.to_thread) it
    would fire when the pool retires that thread, long before this process ends."""
    if (
        not sys.platform.startswith("linux")
        or threading.current_thread() is not threading.main_thread()
    ):
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return preexec
