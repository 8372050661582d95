"""What the PostgreSQL fault tests (test_failover.py, test_pgbouncer.py) share: a rig's
daemon and `clock-gateway web` as subprocesses, started in order and waited for until
both LISTEN sessions (the daemon's card directory, the web's live board) are up, and
the web's log read as structlog events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from bench.kit.harness import DaemonProcess
from bench.kit.rig import Rig
from tests.support.wait import wait_until
from tests.web.stack import WebProcess, free_port


def web_events(web: WebProcess, event: str) -> list[dict[str, Any]]:
    found = []
    for line in list(web.log):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("event") == event:
            found.append(doc)
    return found


@contextlib.asynccontextmanager
async def daemon_and_web(rig: Rig) -> AsyncIterator[tuple[DaemonProcess, WebProcess]]:
    """The rig's readers, the web (board with names) and the daemon, LISTENing; on the
    way out the web is stopped and the rig closed (its daemon killed if still up)."""
    rig.config.write_text(rig.config.read_text() + '\n[web]\nboard = "names"\n')
    web: WebProcess | None = None
    try:
        await rig.start_readers()
        web = WebProcess(rig.config, free_port())
        await asyncio.to_thread(web.start)
        daemon = await rig.start_daemon()
        await asyncio.to_thread(daemon.wait_event, "card_listen_started", 30)
        started = web  # a name the lambda can close over, typed WebProcess

        await asyncio.to_thread(
            wait_until,
            lambda: web_events(started, "live_listen_started"),
            30,
            "the web's LISTEN",
        )
        yield daemon, web
    finally:
        if web is not None:
            await asyncio.to_thread(web.stop)
        await rig.close()
