"""`db upgrade` from version 5 to 6 (the audit trail's index) on both backends: the
index is there afterwards, as a fresh database has it, no audit row is touched, and a
person's trail (target = uid, newest first) is read through it. That the upgraded
schema equals a fresh one object for object is tests/store/test_upgrade.py's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from gateway.store.tables import SCHEMA_VERSION
from gateway.store.upgrade import sqlite_statements, steps
from tests.store.support import open_stores, sql
from tests.store.test_upgrade import Cli, _fill_v1, _v1_pg, _v1_sqlite, _version

TRAIL = "SELECT id FROM audit_log WHERE target = 'bob' ORDER BY id DESC LIMIT 20"


def _v5(db_url: str) -> str:
    pg = not db_url.startswith("sqlite:///")
    url = _v1_pg(db_url) if pg else _v1_sqlite(Path(db_url.removeprefix("sqlite:///")))
    _fill_v1(url)
    for step in steps("postgresql" if pg else "sqlite")[:4]:  # 0002 .. 0005
        if pg:
            with psycopg.connect(url) as conn:
                conn.execute(step.sql)  # type: ignore[call-overload]
        else:
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                for statement in sqlite_statements(step.sql):
                    conn.execute(statement)
    sql(url, "UPDATE schema_version SET version = 5")
    for i in range(30):
        sql(
            url,
            "INSERT INTO audit_log (actor, action, target) "
            f"VALUES ('admin', 'person.rename', '{'bob' if i % 3 else 'ana'}')",
        )
    return url


def _indexes(url: str) -> set[str]:
    if url.startswith("sqlite:///"):
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log'"
    return {str(r[0]) for r in sql(url, query)}


async def test_v5_upgrades_to_v6_with_the_audit_trails_index(db_url: str, tmp_path: Path) -> None:
    assert SCHEMA_VERSION >= 6
    url = _v5(db_url)
    assert "audit_log_target" not in _indexes(url)
    rows_before = sql(url, "SELECT id, at, actor, action, target, details FROM audit_log")
    trail_before = sql(url, TRAIL)
    out, _ = Cli(tmp_path, url)("db", "upgrade")
    assert "0006_audit_target_index.sql" in out and _version(url) == SCHEMA_VERSION
    assert "audit_log_target" in _indexes(url)
    assert sql(url, "SELECT id, at, actor, action, target, details FROM audit_log") == rows_before
    assert sql(url, TRAIL) == trail_before and len(trail_before) == 20
    if url.startswith("sqlite:///"):
        plan = " ".join(str(r[-1]) for r in sql(url, f"EXPLAIN QUERY PLAN {TRAIL}"))
        assert "audit_log_target" in plan, plan
    async with open_stores(url, init=False) as stores:
        assert await stores.db.check() == SCHEMA_VERSION
        rows = await stores.audit.recent(target="bob", limit=5)
        assert [r.id for r in rows] == [r[0] for r in trail_before[:5]]


async def test_a_fresh_database_has_the_index(db_url: str) -> None:
    async with open_stores(db_url):
        pass
    assert "audit_log_target" in _indexes(db_url)
