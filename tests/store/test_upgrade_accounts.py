"""`db upgrade` from version 2: every admin account becomes an account with the role
`admin` and no expiry, and signs in as before; the web's new tables are there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from gateway.store.tables import SCHEMA_VERSION
from gateway.store.upgrade import sqlite_statements, steps
from tests.store.support import open_stores, sql
from tests.store.test_upgrade import Cli, _fill_v1, _v1_pg, _v1_sqlite, _version


def _v2(db_url: str, tmp_path: Path) -> str:
    """A version-2 database as version 2 left it: version 1 and its step 0002."""
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        url = _v1_sqlite(path)
        _fill_v1(url)
        with sqlite3.connect(path) as conn:
            for statement in sqlite_statements(steps("sqlite")[0].sql):
                conn.execute(statement)
    else:
        url = _v1_pg(db_url)
        _fill_v1(url)
        with psycopg.connect(url) as pg:
            pg.execute(steps("postgresql")[0].sql)  # type: ignore[call-overload]
    sql(url, "UPDATE schema_version SET version = 2")
    return url


async def test_admins_become_admin_accounts(db_url: str, tmp_path: Path) -> None:
    url = _v2(db_url, tmp_path)
    assert _version(url) == 2
    sql(
        url,
        "INSERT INTO admins (username, password_hash) VALUES ('secretaria', 'h1'), ('jefa', 'h2')",
    )
    out, _ = Cli(tmp_path, url)("db", "upgrade")
    assert "0004_web_accounts" in out and _version(url) == SCHEMA_VERSION
    assert sql(
        url, "SELECT username, password_hash, role, expires_at FROM accounts ORDER BY 1"
    ) == [
        ("jefa", "h2", "admin", None),
        ("secretaria", "h1", "admin", None),
    ]
    async with open_stores(url, init=False) as stores:
        found = await stores.accounts.credentials("secretaria")
        assert found is not None and found.role == "admin" and found.password_hash == "h1"
        assert await stores.sessions.count_of("secretaria") == 0
    assert sql(url, "SELECT count(*) FROM login_throttle") == [(0,)]
