"""Issue 24 item 10: a corrupted SQLite file gives no backup (no false OK)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.cli.backup import _sqlite_copy
from gateway.errors import GatewayError


def test_corrupt_sqlite_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "clock.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 200,) for _ in range(2000)])
    conn.execute("CREATE INDEX t_v ON t (v)")
    conn.commit()
    conn.close()
    data = bytearray(db.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = b"\xff" * 4096
    db.write_bytes(bytes(data))
    dest = tmp_path / "out" / "clock.db"
    with pytest.raises(GatewayError, match="damaged"):
        _sqlite_copy(db, dest, must_exist=True)
    assert not dest.exists()
