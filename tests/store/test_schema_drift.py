"""schema.sql and the Core metadata describe the same database, and the rules hold.

On a real PostgreSQL server: schema.sql goes into one database, metadata.create_all
into another; both are reflected and must be identical, column by column and
constraint by constraint (PostgreSQL normalises the CHECK texts of both the same
way, so they compare exactly). The reflection is also checked against the metadata
itself, so a table present in neither cannot hide.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.dialects import postgresql

from bench.kit.pgcluster import PgCluster
from gateway.store.audit import Actor
from gateway.store.tables import SCHEMA_VERSION, metadata
from tests.store.support import open_stores, sql

SCHEMA_SQL = Path(__file__).resolve().parents[2] / "schema.sql"


def _sync_engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture
def two_databases(pg_cluster: PgCluster) -> Iterator[tuple[str, str]]:
    """A database from schema.sql (applied twice) and one from the Core metadata."""
    from_sql = pg_cluster.create_database("drift_from_sql")
    from_core = pg_cluster.create_database("drift_from_core")
    try:
        with psycopg.connect(from_sql) as conn:
            conn.execute(SCHEMA_SQL.read_text())  # type: ignore[call-overload]
            conn.execute(SCHEMA_SQL.read_text())  # type: ignore[call-overload]
        engine = _sync_engine(from_core)
        metadata.create_all(engine)
        engine.dispose()
        yield from_sql, from_core
    finally:
        with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "drift_from_sql"')
            conn.execute('DROP DATABASE IF EXISTS "drift_from_core"')


def _partial(index: dict[str, Any]) -> str:
    """The WHERE of a partial index, as either backend reports it."""
    options = index.get("dialect_options", {})
    return str(options.get("postgresql_where", options.get("sqlite_where")))


def snapshot(url: str) -> dict[str, Any]:
    """Everything the inspector can see, in a comparable form (PostgreSQL or SQLite).

    tests/store/test_upgrade.py compares upgraded databases with fresh ones through it.
    """
    engine = _sync_engine(url)
    try:
        insp = inspect(engine)
        tables: dict[str, Any] = {}
        for name in sorted(insp.get_table_names()):
            tables[name] = {
                "columns": [
                    (
                        c["name"],
                        str(c["type"].compile(dialect=engine.dialect)),
                        c["nullable"],
                        c.get("default"),
                        dict(c["identity"]) if c.get("identity") else None,
                    )
                    for c in insp.get_columns(name)
                ],
                "pk": insp.get_pk_constraint(name),
                "fks": sorted(
                    (
                        fk["name"],
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                    )
                    for fk in insp.get_foreign_keys(name)
                ),
                "uniques": sorted(
                    (u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(name)
                ),
                "checks": sorted(
                    (c["name"], c["sqltext"]) for c in insp.get_check_constraints(name)
                ),
                "indexes": sorted(
                    (
                        i["name"],
                        tuple(i["column_names"]),
                        bool(i["unique"]),
                        _partial(i),
                    )
                    for i in insp.get_indexes(name)
                ),
            }
        return tables
    finally:
        engine.dispose()


def test_schema_sql_and_core_metadata_build_the_same_database(
    two_databases: tuple[str, str],
) -> None:
    from_sql, from_core = two_databases
    reflected, built = snapshot(from_sql), snapshot(from_core)
    assert reflected.keys() == built.keys()
    for table in reflected:
        assert reflected[table] == built[table], f"table {table} differs"


def test_schema_sql_matches_the_metadata_declarations(two_databases: tuple[str, str]) -> None:
    reflected = snapshot(two_databases[0])
    assert set(reflected) == set(metadata.tables)
    pg = postgresql.dialect()
    for name, table in metadata.tables.items():
        got = reflected[name]
        assert [(c[0], c[1], c[2]) for c in got["columns"]] == [
            (c.name, str(c.type.compile(dialect=pg)), c.nullable) for c in table.columns
        ], name
        assert got["pk"]["name"] == table.primary_key.name
        assert got["pk"]["constrained_columns"] == [c.name for c in table.primary_key.columns]
        assert {fk[0] for fk in got["fks"]} == {fk.name for fk in table.foreign_key_constraints}
        declared_checks = {
            c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"
        }
        assert {c[0] for c in got["checks"]} == declared_checks, name
        declared_uniques = {
            c.name for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"
        }
        assert {u[0] for u in got["uniques"]} == declared_uniques, name
        declared_indexes = {(i.name, bool(i.unique)) for i in table.indexes}
        # Indexes that back PRIMARY KEY / UNIQUE constraints are not declared as Index.
        got_indexes = {(i[0], i[2]) for i in got["indexes"] if i[0] not in declared_uniques}
        assert got_indexes == declared_indexes, name


def test_applying_schema_sql_again_keeps_the_data(pg_url: str) -> None:
    schema = SCHEMA_SQL.read_text()
    with psycopg.connect(pg_url) as conn:
        conn.execute(schema)  # type: ignore[call-overload]
        conn.execute("INSERT INTO people (uid, name) VALUES ('ana', 'Ana')")
        conn.execute("INSERT INTO cards (card_key, person_uid) VALUES ('04A1B2C3', 'ana')")
    with psycopg.connect(pg_url) as conn:
        conn.execute(schema)  # type: ignore[call-overload]
        assert conn.execute("SELECT uid FROM people").fetchall() == [("ana",)]
        assert conn.execute("SELECT count(*), max(version) FROM schema_version").fetchone() == (
            1,
            SCHEMA_VERSION,
        )


def test_the_packaged_schema_is_the_top_level_file() -> None:
    from importlib import resources

    packaged = resources.files("gateway.store").joinpath("schema.sql").read_text("utf-8")
    assert packaged == SCHEMA_SQL.read_text()


# Rows the database itself must refuse, on both backends, even when written by hand.
BAD_ROWS = [
    ("people", "INSERT INTO people (uid, name) VALUES ('', 'Nobody')"),
    ("people", "INSERT INTO people (uid, name) VALUES ('x', '')"),
    ("cards key", "INSERT INTO cards (card_key, person_uid) VALUES ('04a1b2c3', 'ana')"),
    ("cards key", "INSERT INTO cards (card_key, person_uid) VALUES ('04A1B2C', 'ana')"),
    ("cards key", "INSERT INTO cards (card_key, person_uid) VALUES ('04A1B2C3ZZ', 'ana')"),
    ("cards owner", "INSERT INTO cards (card_key, person_uid) VALUES ('CAFEBABE', 'ghost')"),
    ("cards twice", "INSERT INTO cards (card_key, person_uid) VALUES ('DEADBEEF', 'ana')"),
    (
        "cards revoked",
        "INSERT INTO cards (card_key, person_uid, assigned_at, revoked_at) "
        "VALUES ('CAFEBABE', 'ana', '2026-11-02 00:00:00', '2026-11-01 00:00:00')",
    ),
    (
        "event direction",
        "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
        "received_at) VALUES ('00000000000000000000000000000001', 'ana', 'DEADBEEF', 'sideways', "
        "'r', '2026-11-01 00:00:00')",
    ),
    (
        "event outcome",
        "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
        "received_at, outcome) VALUES ('00000000000000000000000000000001', 'ana', 'DEADBEEF', "
        "'in', 'r', '2026-11-01 00:00:00', 'lost')",
    ),
    (
        "unknown count",
        "INSERT INTO unknown_swipes (card_key, first_seen, last_seen, count, last_reader) "
        "VALUES ('CAFEBABE', '2026-11-01 00:00:00', '2026-11-01 00:00:00', 0, 'r')",
    ),
    (
        "timetable weekday",
        "INSERT INTO timetable (person_uid, weekday, start_time, end_time) "
        "VALUES ('ana', 0, '08:00:00', '09:00:00')",
    ),
    (
        "timetable empty",
        "INSERT INTO timetable (person_uid, weekday, start_time, end_time) "
        "VALUES ('ana', 1, '08:00:00', '08:00:00')",
    ),
    ("schema version", "INSERT INTO schema_version (id, version) VALUES (2, 2)"),
    (
        "event source",
        "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
        "received_at, source) VALUES ('00000000000000000000000000000002', 'ana', 'DEADBEEF', "
        "'in', 'r', '2026-11-01 00:00:00', 'web')",
    ),
    (
        "event imported twice",
        "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
        "received_at, source, source_id) VALUES ('00000000000000000000000000000003', 'ana', "
        "'DEADBEEF', 'in', 'r', '2026-11-01 00:00:00', 'import', 'old-1')",
    ),
    ("account", "INSERT INTO accounts (username, password_hash, role) VALUES ('', 'x', 'hr')"),
    ("account role", "INSERT INTO accounts (username, password_hash, role) VALUES ('a', 'x', 'x')"),
    ("account without role", "INSERT INTO accounts (username, password_hash) VALUES ('a', 'x')"),
    (
        "session of no account",
        "INSERT INTO web_sessions (id_hash, username, last_seen_at, expires_at) "
        "VALUES ('h', 'ghost', '2026-11-01 00:00:00', '2026-11-02 00:00:00')",
    ),
    *(
        (
            f"correction {what}",
            "INSERT INTO corrections (person_uid, kind, direction, at, event_id, reason, "
            f"created_by) VALUES ({values}, 'admin')",
        )
        for what, values in [
            ("kind", "'ana', 'edit', 'in', '2026-11-01 08:00:00', NULL, 'forgot'"),
            ("direction", "'ana', 'add', 'up', '2026-11-01 08:00:00', NULL, 'forgot'"),
            ("add without time", "'ana', 'add', 'in', NULL, NULL, 'forgot'"),
            ("add with event", "'ana', 'add', 'in', '2026-11-01 08:00:00', 1, 'forgot'"),
            ("void without event", "'ana', 'void', NULL, NULL, NULL, 'mistake'"),
            ("void with time", "'ana', 'void', NULL, '2026-11-01 08:00:00', 1, 'mistake'"),
            ("reason", "'ana', 'add', 'in', '2026-11-01 08:00:00', NULL, ''"),
            ("person", "'ghost', 'add', 'in', '2026-11-01 08:00:00', NULL, 'forgot'"),
            ("event", "'ana', 'void', NULL, NULL, 999, 'mistake'"),
        ]
    ),
]

# An imported event (id 1) that the rows above may refer to or collide with.
_IMPORTED = (
    "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
    "received_at, source, source_id) VALUES ('00000000000000000000000000000001', 'ana', "
    "'DEADBEEF', 'in', 'r', '2026-11-01 00:00:00', 'import', 'old-1')"
)


async def test_the_database_refuses_bad_rows(db_url: str) -> None:
    # One database for all the rows: each statement is its own transaction.
    async with open_stores(db_url) as stores:
        await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
        await stores.lifecycle.assign_card("DEADBEEF", "ana", Actor.cli())
    sql(db_url, _IMPORTED)
    accepted = []
    for what, statement in BAD_ROWS:
        try:
            sql(db_url, statement)
        except (sqlite3.IntegrityError, psycopg.errors.IntegrityError):
            continue
        accepted.append(what)
    assert accepted == []
    # The same shapes with valid values go in: the refusals above are the rules'.
    sql(db_url, "INSERT INTO cards (card_key, person_uid) VALUES ('04A1B2C3D4E5F6', 'ana')")
    sql(
        db_url,
        "INSERT INTO timetable (person_uid, weekday, start_time, end_time) "
        "VALUES ('ana', 7, '22:00:00', '06:00:00')",
    )
    for values in (
        "'ana', 'add', 'out', '2026-11-01 17:00:00', NULL, 'forgot'",
        "'ana', 'void', NULL, NULL, 1, 'mistake'",
    ):
        sql(
            db_url,
            "INSERT INTO corrections (person_uid, kind, direction, at, event_id, reason, "
            f"created_by) VALUES ({values}, 'admin')",
        )
