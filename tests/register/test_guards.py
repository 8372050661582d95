"""Issue 21 item 4: the register is append-only in the database itself, on both backends.

Triggers refuse every UPDATE (and TRUNCATE) of events, corrections, audit rows and
seals, and every DELETE of one younger than the legal minimum; the retention purge
deletes only older rows. An upgraded database has exactly the guards of a fresh one,
and its rows are sealed by the upgrade.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import delete

from gateway.errors import InvalidInputError
from gateway.store import tables
from gateway.store.audit import Actor
from gateway.store.tables import REGISTER_GUARDED, audit_log
from tests.register.support import check, fill
from tests.store.support import open_stores, sql
from tests.store.test_upgrade import Cli, _fill_v1, _v1_pg, _v1_sqlite

REFUSED = (sqlite3.IntegrityError, psycopg.errors.RestrictViolation)


async def test_no_update_and_no_recent_delete_on_either_backend(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await fill(stores)
        await stores.seals.seal_pending()
    # A row in each of schema v5's register tables too (a guard on an empty table
    # would refuse nothing and prove nothing).
    for statement in (
        "INSERT INTO work_regimes (person_uid, valid_from, kind, weekly_minutes, place, "
        "created_by) VALUES ('ana', '2026-11-01', 'full_time', 2400, 'on_site', 'admin')",
        "INSERT INTO overtime_choices (person_uid, month, choice, created_by) "
        "VALUES ('ana', '2026-11', 'rest', 'admin')",
        "INSERT INTO correction_steps (correction_id, step, side, actor) "
        "VALUES (1, 'proposed', 'company', 'admin')",
    ):
        sql(db_url, statement)
    for table, column in REGISTER_GUARDED:
        key = "seq" if table == "seals" else "id"
        for statement in (
            f"UPDATE {table} SET {column} = {column} WHERE {key} = 1",
            f"DELETE FROM {table} WHERE {key} = 1",
            f"DELETE FROM {table}",
        ):
            with pytest.raises(REFUSED, match="append-only"):
                sql(db_url, statement)
    if db_url.startswith("postgresql"):
        for table, _ in REGISTER_GUARDED:
            with pytest.raises(REFUSED, match="TRUNCATE"):
                sql(db_url, f"TRUNCATE {table} CASCADE")
    assert sql(db_url, "SELECT count(*) FROM clock_events") == [(4,)]
    # Through the stores, the refusal is one clear line.
    async with open_stores(db_url, init=False) as stores:
        with pytest.raises(InvalidInputError, match="append-only"):
            async with stores.db.tx(write=True) as conn:
                await conn.execute(delete(audit_log))


async def test_a_row_older_than_the_legal_minimum_may_be_deleted(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await stores.audit.record(Actor.cli(), "login.failed")
        await stores.audit.record(Actor.cli(), "login.failed")
    old = "2019-03-01 08:00:00.000000" if db_url.startswith("sqlite") else "2019-03-01 08:00Z"
    # The row is made old by an owner who drops the guard for it, and puts it back.
    _without_guard(db_url, "audit_log", f"UPDATE audit_log SET at = '{old}' WHERE id = 1")
    sql(db_url, "DELETE FROM audit_log WHERE id = 1")  # older than 4 years: allowed
    with pytest.raises(REFUSED):
        sql(db_url, "DELETE FROM audit_log WHERE id = 2")
    assert sql(db_url, "SELECT id FROM audit_log") == [(2,)]


def _without_guard(url: str, table: str, statement: str) -> None:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            [(ddl,)] = conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (f"{table}_no_update",)
            ).fetchall()
            conn.execute(f"DROP TRIGGER {table}_no_update")
            conn.execute(statement)
            conn.execute(ddl)
    else:
        sql(url, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        sql(url, statement)
        sql(url, f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def _sqlite_triggers(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        ).fetchall()


async def test_an_upgraded_database_is_guarded_and_sealed_like_a_fresh_one(
    db_url: str, tmp_path: Path
) -> None:
    if db_url.startswith("sqlite"):
        url = _v1_sqlite(Path(db_url.removeprefix("sqlite:///")))
    else:
        url = _v1_pg(db_url)
    _fill_v1(url)
    out, _ = Cli(tmp_path, url)("db", "upgrade")
    assert "applied 0003_register_seals.sql" in out
    assert "sealed the 4 row(s) already in the register" in out
    async with open_stores(url, init=False) as stores:
        report = await check(stores)
        assert report.ok and report.rows["event"] == 4
    with pytest.raises(REFUSED):
        sql(url, "UPDATE clock_events SET outcome = 'duplicate'")
    if db_url.startswith("sqlite"):
        fresh = tmp_path / "fresh.db"
        async with open_stores(f"sqlite:///{fresh}"):
            pass
        upgraded = _sqlite_triggers(Path(url.removeprefix("sqlite:///")))
        assert upgraded == _sqlite_triggers(fresh)
        assert len(upgraded) == 2 * len(REGISTER_GUARDED)


def test_every_guard_dates_rows_by_a_column_that_exists() -> None:
    for table, column in REGISTER_GUARDED:
        assert column in tables.metadata.tables[table].c, (table, column)
