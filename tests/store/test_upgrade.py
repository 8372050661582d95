"""`db upgrade` takes a version-1 database, full of data, to the current schema.

The version-1 databases are built the way version 1 built them: on PostgreSQL from
the frozen schema.sql of that release (schema_v1.sql), on SQLite from the DDL its
metadata.create_all produced (schema_v1_sqlite.sql). The upgrade runs through the
real CLI in a subprocess; the result is compared with a fresh database through the
drift test's snapshot, and every row must still be there.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.kit.pgcluster import PASSWORD, PgCluster
from gateway.domain import UnknownSwipe
from gateway.errors import DatabaseUnavailableError, ExitCode
from gateway.store.audit import Actor
from gateway.store.tables import REGISTER_GUARDED, SCHEMA_VERSION
from gateway.store.upgrade import sqlite_statements, steps
from tests.store.support import count, event, open_stores, sql
from tests.store.test_schema_drift import SCHEMA_SQL, snapshot

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
V1_PG = HERE / "schema_v1.sql"
V1_SQLITE = HERE / "schema_v1_sqlite.sql"
V1_TABLES = ["schema_version", "people", "cards", "clock_events", "unknown_swipes", "timetable"]
# Three people (one inactive), a revoked and two held cards, events of both
# outcomes, two unknown cards, two shifts: a row in every table of version 1.
EVENT_KEYS = [uuid.UUID(int=n).hex for n in (1, 2, 3, 4)]


# -- building version-1 databases -------------------------------------------------
def _fill_v1(url: str) -> None:
    pg = url.startswith("postgresql://")

    def at(text: str) -> str:  # a UTC time as each backend's v1 code stored it
        return f"{text}+00" if pg else f"{text}.000000"

    rows = [
        "INSERT INTO people (uid, name) VALUES ('ana', 'Ana García'), ('bob', 'Bob')",
        "INSERT INTO people (uid, name, active) VALUES ('cy', 'Cy', false)",
        "INSERT INTO cards (card_key, person_uid, assigned_at, revoked_at) VALUES "
        f"('0BADC0DE', 'ana', '{at('2026-10-01 08:00:00')}', '{at('2026-10-02 08:00:00')}')",
        "INSERT INTO cards (card_key, person_uid) VALUES ('04A1B2C3', 'ana'), "
        "('04A1B2C3D4E5F6', 'bob')",
        *(
            "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
            "reader_hw_id, received_at, outcome) VALUES "
            f"('{key}', '{uid}', '{card}', '{way}', 'entrance', {hw}, "
            f"'{at(when)}', '{outcome}')"
            for key, uid, card, way, hw, when, outcome in [
                (
                    EVENT_KEYS[0],
                    "ana",
                    "04A1B2C3",
                    "in",
                    "'a1b2c3d4'",
                    "2026-11-02 08:00:00",
                    "recorded",
                ),
                (
                    EVENT_KEYS[1],
                    "ana",
                    "04A1B2C3",
                    "in",
                    "NULL",
                    "2026-11-02 08:00:05",
                    "duplicate",
                ),
                (
                    EVENT_KEYS[2],
                    "bob",
                    "04A1B2C3D4E5F6",
                    "in",
                    "NULL",
                    "2026-11-02 08:30:00",
                    "recorded",
                ),
                (
                    EVENT_KEYS[3],
                    "ana",
                    "04A1B2C3",
                    "out",
                    "'a1b2c3d4'",
                    "2026-11-02 17:00:00",
                    "recorded",
                ),
            ]
        ),
        "INSERT INTO unknown_swipes (card_key, first_seen, last_seen, count, last_reader, "
        f"last_reader_hw_id) VALUES ('CAFEBABE', '{at('2026-11-01 07:00:00')}', "
        f"'{at('2026-11-02 07:00:00')}', 3, 'entrance', 'a1b2c3d4'), "
        f"('DEADBEEF', '{at('2026-11-02 09:00:00')}', '{at('2026-11-02 09:00:00')}', 1, "
        "'exit', NULL)",
        "INSERT INTO timetable (person_uid, weekday, start_time, end_time, room) VALUES "
        "('ana', 1, '08:00:00', '16:00:00', 'A1'), ('bob', 5, '22:00:00', '06:00:00', '')",
    ]
    for statement in rows:
        sql(url, statement)


def _v1_sqlite(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        for statement in sqlite_statements(V1_SQLITE.read_text()):
            conn.execute(statement)
    return f"sqlite:///{path}"


def _v1_pg(url: str) -> str:
    with psycopg.connect(url) as conn:
        conn.execute(V1_PG.read_text())  # type: ignore[call-overload]
    return url


@pytest.fixture
def v1_url(db_url: str, tmp_path: Path) -> str:
    """A version-1 database with data in every table, on each backend."""
    if db_url.startswith("sqlite:///"):
        url = _v1_sqlite(Path(db_url.removeprefix("sqlite:///")))
    else:
        url = _v1_pg(db_url)
    _fill_v1(url)
    return url


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    """A second, empty database on the same backend as db_url."""
    if db_url.startswith("sqlite:///"):
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"fresh_{uuid.uuid4().hex[:12]}")


# -- the CLI, as a person runs it --------------------------------------------------
class Cli:
    def __init__(self, tmp_path: Path, url: str, name: str = "config.toml") -> None:
        self.config = tmp_path / name
        self.config.write_text(
            f'[gateway]\nstate_dir = "{tmp_path / "state"}"\n\n[database]\nurl = "{url}"\n'
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_GATEWAY_")}

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", *args, "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=ROOT,
        )

    def __call__(self, *args: str, code: ExitCode = ExitCode.OK) -> tuple[str, str]:
        process = self.start(*args)
        out, err = process.communicate(timeout=120)
        return self.checked(args, process.returncode, out, err, code)

    @staticmethod
    def checked(
        args: tuple[str, ...], returncode: int, out: str, err: str, code: ExitCode
    ) -> tuple[str, str]:
        assert returncode == code, (args, out, err)
        assert "Traceback" not in err and PASSWORD not in out + err
        if code != ExitCode.OK:
            assert len(err.strip().splitlines()) == 1, err  # one line says what is wrong
        return out, err


def _version(url: str) -> int:
    return int(sql(url, "SELECT version FROM schema_version")[0][0])


def _counts(url: str) -> dict[str, int]:
    return {table: count(url, table) for table in V1_TABLES}


# -- the upgrade -------------------------------------------------------------------
async def test_upgrade_keeps_every_row_and_matches_a_fresh_database(
    v1_url: str, fresh_url: str, tmp_path: Path
) -> None:
    before = _counts(v1_url)
    events_before = sql(
        v1_url, "SELECT id, event_key, received_at, outcome FROM clock_events ORDER BY id"
    )
    cli = Cli(tmp_path, v1_url)

    out, err = cli("db", "check", code=ExitCode.DB_UNAVAILABLE)
    assert "schema version 1" in err and "db upgrade" in err
    out, err = cli("db", "init", code=ExitCode.DB_UNAVAILABLE)
    assert "db upgrade" in err
    out, _ = cli("db", "upgrade", "--dry-run")
    assert "0002_" in out and _version(v1_url) == 1  # a dry run changes nothing

    out, _ = cli("db", "upgrade")
    assert f"from schema version 1 to {SCHEMA_VERSION}" in out
    assert _version(v1_url) == SCHEMA_VERSION
    out, _ = cli("db", "check")
    assert f"schema version {SCHEMA_VERSION}" in out

    # The same database as a fresh one (`db init`: schema.sql, or the metadata on
    # SQLite), object for object.
    async with open_stores(fresh_url):
        pass
    upgraded, fresh = snapshot(v1_url), snapshot(fresh_url)
    assert upgraded.keys() == fresh.keys()
    for table in fresh:
        assert upgraded[table] == fresh[table], f"table {table} differs"

    # No row lost or changed; the new columns hold their defaults.
    assert _counts(v1_url) == before
    assert (
        sql(v1_url, "SELECT id, event_key, received_at, outcome FROM clock_events ORDER BY id")
        == events_before
    )
    assert set(sql(v1_url, "SELECT gateway_id, source, source_id FROM clock_events")) == {
        ("default", "reader", None)
    }
    assert sql(v1_url, "SELECT count(*) FROM people WHERE erased_at IS NULL") == [(3,)]
    assert sql(
        v1_url, "SELECT card_key, count, last_gateway_id FROM unknown_swipes ORDER BY card_key"
    ) == [("CAFEBABE", 3, "default"), ("DEADBEEF", 1, "default")]

    # Today's code reads and writes the upgraded database.
    async with open_stores(v1_url, init=False) as stores:
        assert await stores.db.check() == SCHEMA_VERSION
        stored = await stores.events.events_since(0)
        assert [e.event_key.hex for e in stored] == EVENT_KEYS
        assert stored[0].received_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
        assert sorted(await stores.swipes.card_directory()) == ["04A1B2C3", "04A1B2C3D4E5F6"]
        assert await stores.swipes.record_events([event()]) == [True]
        unknown = await stores.people.unknown_swipes()
        assert [r.card_key for r in unknown] == ["DEADBEEF", "CAFEBABE"]
        assert len(await stores.timetable.timetable()) == 2
    assert sql(v1_url, "SELECT max(id) FROM clock_events") == [(5,)]  # ids carry on

    # Again: nothing to do, nothing changed.
    out, _ = cli("db", "upgrade", "--json")
    assert json.loads(out) == {
        "url": json.loads(out)["url"],
        "backend": "postgresql" if v1_url.startswith("postgresql") else "sqlite",
        "from_version": SCHEMA_VERSION,
        "schema_version": SCHEMA_VERSION,
        "steps": [],
        "dry_run": False,
        "ok": True,
    }
    assert _version(v1_url) == SCHEMA_VERSION
    assert count(v1_url, "clock_events") == before["clock_events"] + 1
    cli("db", "init")  # and db init on the upgraded database is harmless


async def test_the_check_the_daemon_runs_names_db_upgrade(v1_url: str) -> None:
    async with open_stores(v1_url, init=False) as stores:
        with pytest.raises(DatabaseUnavailableError) as info:
            await stores.db.check()
    message = str(info.value)
    assert "schema version 1" in message and "'clock-gateway db upgrade'" in message
    assert "\n" not in message and PASSWORD not in message


async def test_a_newer_schema_is_refused_with_one_line(v1_url: str, tmp_path: Path) -> None:
    sql(v1_url, "UPDATE schema_version SET version = 99")
    before = snapshot(v1_url)
    cli = Cli(tmp_path, v1_url)
    for command in (("db", "upgrade"), ("db", "upgrade", "--dry-run"), ("db", "check")):
        _, err = cli(*command, code=ExitCode.DB_UNAVAILABLE)
        assert "schema version 99" in err and "upgrade clock-gateway" in err
    _, err = cli("db", "init", code=ExitCode.DB_UNAVAILABLE)
    assert "schema version 99" in err
    assert snapshot(v1_url) == before and _version(v1_url) == 99


async def test_upgrade_without_a_schema_says_to_init(db_url: str, tmp_path: Path) -> None:
    cli = Cli(tmp_path, db_url)
    _, err = cli("db", "upgrade", code=ExitCode.DB_UNAVAILABLE)
    assert "db init" in err
    out, _ = cli("db", "init")
    assert f"schema version {SCHEMA_VERSION}" in out  # an empty database goes straight to v2
    out, _ = cli("db", "upgrade")
    assert "nothing to do" in out


def test_two_upgrades_at_once_take_turns(v1_url: str, tmp_path: Path) -> None:
    clis = [Cli(tmp_path, v1_url, f"config{n}.toml") for n in range(2)]
    processes = [cli.start("db", "upgrade") for cli in clis]
    outputs = []
    for process, args in zip(processes, (("db", "upgrade"),) * 2, strict=True):
        out, err = process.communicate(timeout=120)
        outputs.append(Cli.checked(args, process.returncode, out, err, ExitCode.OK)[0])
    applied = [out for out in outputs if "applied 0002_" in out]
    assert len(applied) == 1, outputs  # the other found nothing left to do
    assert _version(v1_url) == SCHEMA_VERSION
    assert count(v1_url, "clock_events") == len(EVENT_KEYS)


@pytest.mark.postgres
def test_a_failed_step_leaves_the_previous_version(pg_url: str, tmp_path: Path) -> None:
    url = _v1_pg(pg_url)
    _fill_v1(url)
    sql(url, "CREATE TABLE admins (username text)")  # in the way of the step
    _, err = Cli(tmp_path, url)("db", "upgrade", code=ExitCode.DB_UNAVAILABLE)
    assert "0002_" in err and "stays at version 1" in err and "admins" in err
    assert _version(url) == 1
    columns = sql(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'clock_events'",
    )
    assert ("gateway_id",) not in columns  # the step's earlier statements were undone
    assert count(url, "clock_events") == len(EVENT_KEYS)


def test_sqlite_checks_foreign_keys_before_committing_a_step(tmp_path: Path) -> None:
    url = _v1_sqlite(tmp_path / "v1.db")
    _fill_v1(url)
    # A row version 1 would never have written (it ran with foreign keys on).
    with sqlite3.connect(tmp_path / "v1.db") as conn:
        conn.execute(
            "INSERT INTO timetable (person_uid, weekday, start_time, end_time) "
            "VALUES ('ghost', 2, '08:00:00', '09:00:00')"
        )
    _, err = Cli(tmp_path, url)("db", "upgrade", code=ExitCode.CONFLICT)
    assert "timetable" in err and "stays at version 1" in err
    assert _version(url) == 1 and count(url, "clock_events") == len(EVENT_KEYS)


# -- the steps themselves ----------------------------------------------------------
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_every_version_has_a_step_on_each_backend(dialect: str) -> None:
    found = steps(dialect)
    assert [s.version for s in found] == list(range(2, SCHEMA_VERSION + 1))
    assert [s.name for s in found] == [s.name for s in steps("postgresql")]
    for step in found:
        # The runner sets the version, inside the step's transaction.
        assert "schema_version" not in step.sql


def test_the_sqlite_splitter_keeps_statements_whole() -> None:
    script = "-- a comment\nCREATE TABLE t (a TEXT DEFAULT ';');\n\nINSERT INTO t VALUES ('x;y');\n"
    assert sqlite_statements(script) == [
        "CREATE TABLE t (a TEXT DEFAULT ';');",
        "INSERT INTO t VALUES ('x;y');",
    ]


# -- PostgreSQL's notify triggers --------------------------------------------------
def _triggers(url: str) -> list[tuple[Any, ...]]:
    return sql(
        url,
        "SELECT t.tgname, c.relname, t.tgtype, p.proname, p.prosrc FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE NOT t.tgisinternal ORDER BY t.tgname",
    )


@pytest.fixture(params=["fresh", "upgraded"])
def pg_current(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> Iterator[str]:
    """A current PostgreSQL database, made by schema.sql or upgraded from version 1."""
    if request.param == "fresh":
        with psycopg.connect(pg_url) as conn:
            conn.execute(SCHEMA_SQL.read_text())  # type: ignore[call-overload]
    else:
        _v1_pg(pg_url)
        Cli(tmp_path, pg_url)("db", "upgrade")
    yield pg_url


@pytest.mark.postgres
def test_upgraded_and_fresh_databases_have_the_same_triggers(
    pg_url: str, pg_cluster: PgCluster, tmp_path: Path
) -> None:
    _v1_pg(pg_url)
    Cli(tmp_path, pg_url)("db", "upgrade")
    fresh = pg_cluster.create_database(f"fresh_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(fresh) as conn:
        conn.execute(SCHEMA_SQL.read_text())  # type: ignore[call-overload]
    register = [
        (f"{table}_{kind}", table)
        for table, _ in REGISTER_GUARDED
        for kind in ("append_only", "no_truncate")
    ]
    assert sorted(t[:2] for t in _triggers(fresh)) == sorted(
        [
            ("cards_notify", "cards"),
            ("clock_events_notify", "clock_events"),
            ("people_notify", "people"),
            ("unknown_swipes_notify", "unknown_swipes"),
            *register,  # schema v3 and v5: the register is append-only (tests/register/)
        ]
    )
    assert _triggers(pg_url) == _triggers(fresh)


def _wait_for(conn: psycopg.Connection[Any], channel: str, seconds: float = 10.0) -> None:
    """Returns when a notification on channel arrives; fails after `seconds`."""
    notes = list(conn.notifies(timeout=seconds, stop_after=1))
    assert [n.channel for n in notes] == [channel], f"nothing on {channel} within {seconds} s"


@pytest.mark.postgres
async def test_notify_triggers_wake_listeners(pg_current: str) -> None:
    with psycopg.connect(pg_current, autocommit=True) as listener:
        listener.execute("LISTEN clock_gateway_events")
        listener.execute("LISTEN clock_gateway_cards")
        async with open_stores(pg_current, init=False) as stores:
            await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
            _wait_for(listener, "clock_gateway_cards")
            await stores.lifecycle.assign_card("04A1B2C3", "ana", Actor.cli())
            _wait_for(listener, "clock_gateway_cards")
            assert await stores.swipes.record_events([event()]) == [True]
            _wait_for(listener, "clock_gateway_events")
            await stores.swipes.record_unknown(
                UnknownSwipe("CAFEBABE", "entrance", None, datetime.now(UTC))
            )
            _wait_for(listener, "clock_gateway_events")
        # Nothing else is pending: one notification per transaction.
        assert list(listener.notifies(timeout=0.2)) == []
