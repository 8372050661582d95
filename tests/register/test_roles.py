"""Issue 21 item 4 on PostgreSQL: no application role may UPDATE or DELETE the register.

The daemon's role (db grant-daemon) seals and changes nothing; the web's role (db
grant-web) does what the pages do (people, cards, corrections, erasure) and can no
more change an event, a correction, an audit row or a seal than the daemon can. The
purge is the owner's (tests/register/test_retention.py)."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from bench.kit.pgcluster import PgCluster
from gateway.store.grants import REGISTER_TABLES, WEB_WRITES, grant_daemon, grant_web
from tests.register.support import ADMIN, check, existing_person
from tests.store.support import event, open_stores

pytestmark = pytest.mark.postgres


def _role(pg_cluster: PgCluster, pg_url: str, name: str) -> str:
    with (
        psycopg.connect(pg_url, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DuplicateObject),
    ):
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'")  # type: ignore[call-overload]
    dbname = pg_url.rsplit("/", 1)[1]
    return f"postgresql://{name}:pw-{name}@127.0.0.1:{pg_cluster.port}/{dbname}"


def test_the_web_plan_never_grants_a_change_of_the_register() -> None:
    for table in REGISTER_TABLES:
        assert "UPDATE" not in WEB_WRITES.get(table, "") and "DELETE" not in WEB_WRITES.get(
            table, ""
        )


async def test_web_and_daemon_roles_cannot_change_the_register(
    pg_cluster: PgCluster, pg_url: str
) -> None:
    # Roles are cluster-wide: names of this test's own.
    web_url = _role(pg_cluster, pg_url, "register_web")
    daemon_url = _role(pg_cluster, pg_url, "register_daemon")
    async with open_stores(pg_url) as owner:
        await existing_person(owner, "ana", "Ana", "04A1B2C3")
        await grant_web(owner.db, "register_web")
        await grant_daemon(owner.db, "register_daemon")
    async with open_stores(daemon_url, init=False) as daemon:
        assert await daemon.swipes.record_events([event("ana")]) == [True]
    async with open_stores(web_url, init=False) as web:
        # What the pages do.
        await web.lifecycle.add_person("bob", "Bob", ADMIN)
        await web.lifecycle.assign_card("04B0B0B0", "bob", ADMIN)
        await web.lifecycle.rename("bob", "Bob B.", ADMIN)
        await web.corrections.void(1, "tapped by mistake", ADMIN)
        await web.corrections.add_missing("bob", "in", datetime.now(UTC), "no card", ADMIN)
        erased = await web.lifecycle.erase("bob", ADMIN)
        assert erased.corrections_kept == 1
        assert len(await web.audit.recent()) == 6
    async with open_stores(daemon_url, init=False) as daemon:
        assert (await daemon.seals.seal_pending()).sealed == 11  # with the 2 steps
        assert (await check(daemon)).ok  # the daemon's role can verify too
    for url in (web_url, daemon_url):
        for statement in (
            "UPDATE clock_events SET direction = 'out'",
            "DELETE FROM clock_events",
            "UPDATE corrections SET reason = 'x'",
            "DELETE FROM corrections",
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "UPDATE seals SET seal = 'x'",
            "DELETE FROM seals",
            "TRUNCATE seals",
        ):
            with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[call-overload]
    with psycopg.connect(web_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO seals (seq, kind, row_id, payload, prev, seal, sealed_at) "
            "VALUES (99, 'event', 99, '{}', 'x', 'y', now())"
        )
    with psycopg.connect(web_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO clock_events (event_key, person_uid, card_key, direction, reader, "
            "received_at) VALUES (%s, 'ana', '04A1B2C3', 'in', 'r', now())",
            (uuid.uuid4(),),
        )
