"""How many SQL statements the daemon sends per swipe, read from PostgreSQL's own log.

For a short sample, statement logging is switched on for the whole cluster (ALTER
SYSTEM + reload reaches the daemon's pooled sessions too) with the application name
in each line; the daemon's connections call themselves `clock-gateway`. Every
statement is a round trip on the swipe path, so this says where time goes without
profiling the daemon.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg

DAEMON_APP = "clock-gateway"  # the application_name of the daemon's connections


def _set_logging(url: str, on: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if on:
            conn.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] app=%a '")
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        else:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("ALTER SYSTEM RESET log_line_prefix")
        conn.execute("SELECT pg_reload_conf()")


def _kind(line: str, following: list[str]) -> str:
    """The statement's first word: BEGIN, SELECT, INSERT, WITH, COMMIT, ';' (a ping)...

    A statement that starts with a line break continues on the log's next lines.
    """
    if "statement: " in line:
        text = line.split("statement: ", 1)[1]
    else:  # extended protocol: "execute <name>: <sql>"
        text = line.split(" execute ", 1)[1].split(": ", 1)[-1]
    for more in [text, *following]:
        words = more.split()
        if words:
            return words[0].upper()
    return "?"


async def statements_per_run(
    url: str, server_log: Path, app: str, runs: int, action: Callable[[], Awaitable[object]]
) -> tuple[float, Counter[str]]:
    """Run `action` `runs` times with statement logging on: statements of `app` per run."""
    await asyncio.to_thread(_set_logging, url, True)
    try:
        await asyncio.sleep(0.3)  # every backend reads the new settings before its next query
        offset = server_log.stat().st_size
        for _ in range(runs):
            await action()
        await asyncio.sleep(0.3)
    finally:
        await asyncio.to_thread(_set_logging, url, False)
    with server_log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    kinds: Counter[str] = Counter()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if f"app={app} " in line and ("statement: " in line or " execute " in line):
            kinds[_kind(line, lines[i + 1 : i + 3])] += 1
    return sum(kinds.values()) / runs, kinds


def describe(kinds: Counter[str], runs: int) -> str:
    return ", ".join(f"{k} {n / runs:g}" for k, n in kinds.most_common())
