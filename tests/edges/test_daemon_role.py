"""Issue 13 item 5: the daemon's least-privilege role, end to end on a real PostgreSQL,
set up as docs/DATABASE.md says: a superuser creates the roles and the database, the
owner role (not a superuser) runs `db init` and `db grant-daemon`."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from bench.kit.pgcluster import PgCluster
from gateway.domain import Person, UnknownSwipe
from gateway.errors import DatabaseUnavailableError
from gateway.store.audit import Actor
from gateway.store.tables import SCHEMA_VERSION
from tests.store.support import event, open_stores

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
_n = itertools.count(1)


def cli(url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLOCK_GATEWAY_DATABASE_URL": url, "CLOCK_GATEWAY_CONFIG": os.devnull}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def role_url(cluster: PgCluster, role: str, password: str, dbname: str) -> str:
    return f"postgresql://{role}:{password}@127.0.0.1:{cluster.port}/{dbname}"


async def test_the_recipe_as_the_owner_role(pg_cluster: PgCluster, tmp_path: Path) -> None:
    n = f"{next(_n)}_{uuid.uuid4().hex[:6]}"
    owner, daemon, other, dbname = f"own_{n}", f"dmn_{n}", f"oth_{n}", f"clock_{n}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as su:
        # As docs/DATABASE.md: the superuser's part.
        su.execute(f"CREATE ROLE {owner} LOGIN PASSWORD 'ownerpw'")  # type: ignore[call-overload]
        su.execute(f"CREATE DATABASE {dbname} OWNER {owner}")  # type: ignore[call-overload]
        su.execute(f"CREATE ROLE {daemon} LOGIN PASSWORD 'daemonpw'")  # type: ignore[call-overload]
        su.execute(f"CREATE ROLE {other} LOGIN PASSWORD 'otherpw'")  # type: ignore[call-overload]
    owner_url = role_url(pg_cluster, owner, "ownerpw", dbname)
    daemon_url = role_url(pg_cluster, daemon, "daemonpw", dbname)

    # The owner's part, with the commands as written.
    cli(owner_url, "db", "init")
    cli(owner_url, "users", "add", "ana", "Ana")
    cli(owner_url, "cards", "assign", "04A1B2C3", "ana")
    # Why the old recipe failed: the owner may not create roles.
    with (
        psycopg.connect(owner_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CREATE ROLE nope LOGIN")
    dry = cli(owner_url, "db", "grant-daemon", daemon, "--dry-run").stdout
    assert "REVOKE ALL ON DATABASE" in dry and "dry run" in dry
    cli(owner_url, "db", "grant-daemon", daemon)
    cli(owner_url, "db", "grant-daemon", daemon)  # safe to run again
    cli(owner_url, "db", "grant-daemon", "no_such_role", code=4)

    # The daemon can do its job...
    async with open_stores(daemon_url, init=False) as stores:
        assert await stores.db.check() == SCHEMA_VERSION
        assert await stores.swipes.find_person_by_card("04A1B2C3") == Person("ana", "Ana")
        swipe = event()
        assert await stores.swipes.record_events([swipe]) == [True]
        assert await stores.swipes.record_events([swipe]) == [False]
        # The live swipe path (one statement per batch on PostgreSQL) as well.
        assert await stores.swipes.record_swipes([event(), event(card="CAFEBABE")]) == [
            Person("ana", "Ana"),
            None,
        ]
        for _ in range(2):
            await stores.swipes.record_unknown(
                UnknownSwipe("CAFEBABE", "entrance", None, swipe.received_at)
            )
        with pytest.raises(DatabaseUnavailableError, match="permission denied"):
            await stores.lifecycle.add_person("bob", "Bob", Actor.cli())

    # ...and nothing more: no id, no stored time, no update or delete (schema v3: it reads
    # the register, which its sealer seals, and may change none of it).
    now = datetime.now(UTC)
    with psycopg.connect(daemon_url, autocommit=True) as conn:
        for statement in (
            "INSERT INTO clock_events (id, event_key, person_uid, card_key, direction, reader,"
            " received_at) VALUES (9000000000000000000, %s, 'ana', '04A1B2C3', 'in', 'r', %s)",
            "INSERT INTO clock_events (stored_at, event_key, person_uid, card_key, direction,"
            " reader, received_at) VALUES (%s, %s, 'ana', '04A1B2C3', 'in', 'r', %s)",
        ):
            params = (uuid.uuid4(), now) if "(id," in statement else (now, uuid.uuid4(), now)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, params)  # type: ignore[call-overload]
        for statement in (
            "UPDATE clock_events SET outcome = 'duplicate'",
            "DELETE FROM clock_events",
            "UPDATE seals SET seal = 'x'",
            "DELETE FROM audit_log",
            "SELECT password_hash FROM accounts",
            "UPDATE people SET name = 'x'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[call-overload]

    # CONNECT is no longer PUBLIC's: a role without a grant cannot even connect.
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(role_url(pg_cluster, other, "otherpw", dbname), connect_timeout=5)

    async with open_stores(owner_url, init=False) as admin:
        [row] = await admin.people.unknown_swipes()
        assert row.count == 3  # two record_unknown, one unknown card in record_swipes
        assert len(await admin.events.events_since(0)) == 2
