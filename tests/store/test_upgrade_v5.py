"""`db upgrade` from version 4 with a sealed register: the chain still verifies, and the
new register rows (regimes, overtime choices, correction steps) are sealed after it.

The version-4 database is made as version 4 made it: version 1's schema, the steps
0002..0004, and a chain sealed over its events, a correction and audit rows (the
sealing rules of those kinds did not change in version 5, so today's seal_rows
writes exactly what version 4's did). Then the real CLI upgrades it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from gateway.store.seal_check import verify
from gateway.store.seals import seal_rows
from gateway.store.tables import SCHEMA_VERSION, audit_log, clock_events, corrections
from gateway.store.upgrade import sqlite_statements, steps
from tests.store.support import open_stores, sql
from tests.store.test_upgrade import Cli, _fill_v1, _v1_pg, _v1_sqlite, _version

REFUSED = (sqlite3.IntegrityError, psycopg.errors.RestrictViolation)


def _v4(db_url: str) -> str:
    """A version-4 database with version 1's rows, a correction and an audit row."""
    pg = not db_url.startswith("sqlite:///")
    url = _v1_pg(db_url) if pg else _v1_sqlite(Path(db_url.removeprefix("sqlite:///")))
    _fill_v1(url)
    for step in steps("postgresql" if pg else "sqlite")[:3]:  # 0002, 0003, 0004
        if pg:
            with psycopg.connect(url) as conn:
                conn.execute(step.sql)  # type: ignore[call-overload]
        else:
            with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
                for statement in sqlite_statements(step.sql):
                    conn.execute(statement)
    sql(url, "UPDATE schema_version SET version = 4")
    at = "2026-11-02 16:30:00+00" if pg else "2026-11-02 16:30:00.000000"
    sql(
        url,
        "INSERT INTO corrections (person_uid, kind, direction, at, reason, created_by) "
        f"VALUES ('bob', 'add', 'out', '{at}', 'card forgotten', 'admin')",
    )
    sql(
        url,
        "INSERT INTO audit_log (actor, action, target) VALUES ('admin', 'correction.add', 'bob')",
    )
    sql(url, "INSERT INTO accounts (username, password_hash, role) VALUES ('hr1', 'h', 'hr')")
    return url


async def _seal_v4(url: str) -> None:
    """Seal every row of the v4 register, as version 4's sealer did."""
    async with open_stores(url, init=False) as stores, stores.db.tx(write=True) as conn:
        found: list[tuple[str, int]] = []
        for kind, table in (
            ("event", clock_events),
            ("correction", corrections),
            ("audit", audit_log),
        ):
            ids = (await conn.execute(select(table.c.id).order_by(table.c.id))).scalars()
            found += [(kind, int(i)) for i in ids]
        sealed, _ = await seal_rows(conn, None, found, datetime.now(UTC))
        assert sealed == len(found) == 6


async def test_a_sealed_v4_register_upgrades_and_still_verifies(
    db_url: str, tmp_path: Path
) -> None:
    url = _v4(db_url)
    await _seal_v4(url)
    chain_before = sql(url, "SELECT seq, kind, row_id, payload, prev, seal FROM seals ORDER BY seq")
    assert [row[1] for row in chain_before] == ["event"] * 4 + ["correction", "audit"]

    out, _ = Cli(tmp_path, url)("db", "upgrade")
    assert "0005_working_time" in out and _version(url) == SCHEMA_VERSION >= 5  # and any step after
    # Not a seal rewritten, and the chain verifies as it did.
    assert (
        sql(url, "SELECT seq, kind, row_id, payload, prev, seal FROM seals ORDER BY seq")
        == chain_before
    )
    async with open_stores(url, init=False) as stores:
        report = await verify(stores.db)
        assert report.ok, report.findings
        assert (report.rows["event"], report.rows["correction"], report.rows["audit"]) == (4, 1, 1)
        assert report.head is not None and report.head.seq == 6

    # The accounts kept their rows; the new columns hold their defaults.
    assert sql(url, "SELECT username, role, person_uid, must_change_password FROM accounts") in (
        [("hr1", "hr", None, False)],
        [("hr1", "hr", None, 0)],
    )

    # The new register rows go in, are sealed after the old chain, and verify.
    sql(
        url,
        "INSERT INTO work_regimes (person_uid, valid_from, kind, weekly_minutes, "
        "part_time_percent, place, created_by) "
        "VALUES ('ana', '2026-11-01', 'part_time', 1200, 50, 'on_site', 'hr1')",
    )
    sql(
        url,
        "INSERT INTO overtime_choices (person_uid, month, choice, created_by) "
        "VALUES ('ana', '2026-11', 'rest', 'hr1')",
    )
    sql(
        url,
        "INSERT INTO correction_steps (correction_id, step, side, actor, note) "
        "VALUES (1, 'proposed', 'company', 'hr1', '')",
    )
    sql(
        url,
        "INSERT INTO accounts (username, password_hash, role, person_uid, "
        "must_change_password) VALUES ('ana', 'h', 'worker', 'ana', true)",
    )
    async with open_stores(url, init=False) as stores:
        # Unsealed and old enough: each new kind is named by `register verify`.
        later = await verify(stores.db, now=datetime.now(UTC) + timedelta(hours=1))
        assert sorted((f.problem, f.kind) for f in later.findings) == [
            ("inserted", "overtime"),
            ("inserted", "regime"),
            ("inserted", "step"),
        ]
        assert any("part_time from 2026-11-01 for ana" in f.detail for f in later.findings)
        assert (await stores.seals.seal_pending()).sealed == 3
        report = await verify(stores.db)
        assert report.ok, report.findings
        assert report.rows["regime"] == report.rows["overtime"] == report.rows["step"] == 1
    kinds = sql(url, "SELECT kind FROM seals WHERE seq > 6 ORDER BY seq")
    assert kinds == [("step",), ("regime",), ("overtime",)]  # ROW_KINDS order
    # ... and they are append-only like the rest of the register.
    for statement in (
        "UPDATE work_regimes SET weekly_minutes = 2400",
        "DELETE FROM overtime_choices",
        "UPDATE correction_steps SET step = 'accepted'",
    ):
        with pytest.raises(REFUSED, match="append-only"):
            sql(url, statement)


async def test_the_new_rules_refuse_bad_rows(db_url: str) -> None:
    async with open_stores(db_url):
        pass
    sql(db_url, "INSERT INTO people (uid, name) VALUES ('ana', 'Ana')")
    regime = (
        "INSERT INTO work_regimes (person_uid, valid_from, kind, weekly_minutes, "
        "part_time_percent, place, overtime_default, created_by) VALUES "
    )
    bad = [
        regime + "('ana', '2026-11-01', 'part_time', 1200, NULL, 'on_site', 'paid', 'hr')",
        regime + "('ana', '2026-11-01', 'full_time', 2400, 50, 'on_site', 'paid', 'hr')",
        regime + "('ana', '2026-11-01', 'part_time', 1200, 100, 'on_site', 'paid', 'hr')",
        regime + "('ana', '2026-11-01', 'full_time', 0, NULL, 'on_site', 'paid', 'hr')",
        regime + "('ana', '2026-11-01', 'full_time', 2400, NULL, 'moon', 'paid', 'hr')",
        regime + "('ana', '2026-11-01', 'full_time', 2400, NULL, 'remote', 'cash', 'hr')",
        regime + "('ghost', '2026-11-01', 'full_time', 2400, NULL, 'remote', 'paid', 'hr')",
        regime + "('ana', '2026-11-01', 'freelance', 2400, NULL, 'remote', 'paid', 'hr')",
        *(
            "INSERT INTO overtime_choices (person_uid, month, choice, created_by) "
            f"VALUES ('ana', '{month}', 'paid', 'hr')"
            for month in ("2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", "2026/11")
        ),
        "INSERT INTO overtime_choices (person_uid, month, choice, created_by) "
        "VALUES ('ana', '2026-11', 'both', 'hr')",
        "INSERT INTO correction_steps (correction_id, step, side, actor) "
        "VALUES (999, 'proposed', 'company', 'hr')",
        "INSERT INTO accounts (username, password_hash, role) VALUES ('w', 'h', 'worker')",
        "INSERT INTO accounts (username, password_hash, role, person_uid) "
        "VALUES ('h', 'h', 'hr', 'ana')",
        "INSERT INTO accounts (username, password_hash, role, person_uid) "
        "VALUES ('w', 'h', 'worker', 'ghost')",
    ]
    accepted = []
    for statement in bad:
        try:
            sql(db_url, statement)
        except (sqlite3.IntegrityError, psycopg.errors.IntegrityError):
            continue
        accepted.append(statement)
    assert accepted == []
    # The same shapes with valid values go in: the refusals above are the rules'.
    sql(db_url, regime + "('ana', '2026-11-01', 'part_time', 1200, 50, 'mixed', 'rest', 'hr')")
    sql(db_url, regime + "('ana', '2027-01-01', 'full_time', 2400, NULL, 'remote', 'paid', 'hr')")
    for month in ("2026-01", "2026-12"):
        sql(
            db_url,
            "INSERT INTO overtime_choices (person_uid, month, choice, created_by) "
            f"VALUES ('ana', '{month}', 'rest', 'hr')",
        )
    sql(
        db_url,
        "INSERT INTO accounts (username, password_hash, role, person_uid) "
        "VALUES ('ana', 'h', 'worker', 'ana')",
    )
    assert sql(db_url, "SELECT count(*) FROM work_regimes") == [(2,)]
