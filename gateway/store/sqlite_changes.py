"""Noticing another connection's commit to a SQLite file: `PRAGMA data_version`.

SQLite has no notifications. `data_version` changes when another connection commits,
and reading it costs a look at shared memory, not a query, so a poll of it is the
cheapest way for the web's board to hear of a tap stored by the daemon.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.logs import get_logger

log = get_logger("store")


class DataVersion:
    """The file's data_version, read on a read-only connection of our own."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None

    def read(self) -> int | None:
        """The current value; None when the file cannot be read now (retried next time)."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, timeout=0.1)
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            log.debug("sqlite_watch_failed", error=str(exc))
            self.close()
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
