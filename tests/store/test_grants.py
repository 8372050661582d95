"""The daemon's least-privilege role (docs/DATABASE.md) is enough, and no more."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import time

import psycopg
import pytest

from bench.kit.pgcluster import PgCluster
from gateway.domain import Person, UnknownSwipe
from gateway.errors import DatabaseUnavailableError
from gateway.store.audit import Actor
from gateway.store.grants import grant_daemon
from gateway.store.models import TimetableEntry
from gateway.store.tables import SCHEMA_VERSION
from tests.store.support import event, open_stores

ROLE, ROLE_PASSWORD = "clock_daemon", "change-me"


@pytest.mark.postgres
async def test_the_daemon_role_can_record_and_nothing_more(
    pg_cluster: PgCluster, pg_url: str
) -> None:
    async with open_stores(pg_url) as admin:
        await admin.lifecycle.add_person("ana", "Ana", Actor.cli())
        await admin.lifecycle.assign_card("04A1B2C3", "ana", Actor.cli())
    dbname = pg_url.rsplit("/", 1)[1]
    # The role is cluster-wide: another test may have created it already.
    with (
        psycopg.connect(pg_url, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DuplicateObject),
    ):
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'")  # type: ignore[call-overload]
    # docs/DATABASE.md's recipe: `clock-gateway db grant-daemon ROLE` (here as the
    # superuser; tests/edges/test_daemon_role.py runs it as a plain owner role).
    async with open_stores(pg_url, init=False) as admin:
        await grant_daemon(admin.db, ROLE)
    daemon_url = pg_cluster.url(dbname).replace("postgres:", f"{ROLE}:", 1)
    daemon_url = daemon_url.replace(":test-secret@", f":{ROLE_PASSWORD}@")

    async with open_stores(daemon_url, init=False) as daemon:
        assert await daemon.db.check() == SCHEMA_VERSION
        assert await daemon.swipes.find_person_by_card("04A1B2C3") == Person("ana", "Ana")
        assert await daemon.swipes.card_directory() == {"04A1B2C3": Person("ana", "Ana")}
        swipe = event()
        assert await daemon.swipes.record_events([swipe]) == [True]
        assert await daemon.swipes.record_events([swipe]) == [False]
        for _ in range(2):
            await daemon.swipes.record_unknown(
                UnknownSwipe("CAFEBABE", "entrance", None, swipe.received_at)
            )

        refused: list[Callable[[], Awaitable[object]]] = [
            lambda: daemon.lifecycle.add_person("bob", "Bob", Actor.cli()),
            lambda: daemon.lifecycle.assign_card("DEADBEEF", "ana", Actor.cli()),
            lambda: daemon.lifecycle.revoke_card("04A1B2C3", Actor.cli()),
            lambda: daemon.timetable.replace_timetable(
                [TimetableEntry("ana", 1, time(8), time(9))]
            ),
        ]
        for operation in refused:
            with pytest.raises(DatabaseUnavailableError, match="permission denied"):
                await operation()

    with psycopg.connect(daemon_url) as conn:
        # Its fleet-status row (an upsert, twice) and a clock step it noticed.
        for depth in (0, 3):
            conn.execute(
                "INSERT INTO gateways (id, version, hostname, started_at, heartbeat_at, "
                "spool_depth) VALUES ('gw1', '0.1.0', 'host', now(), now(), %s) "
                "ON CONFLICT (id) DO UPDATE SET spool_depth = excluded.spool_depth, "
                "heartbeat_at = excluded.heartbeat_at",
                (depth,),
            )
        conn.execute(
            "INSERT INTO clock_steps (gateway_id, detected_at, step_s) VALUES ('gw1', now(), -2.5)"
        )
    # Schema v3: it seals (it reads the register and appends seals), and changes nothing.
    async with open_stores(daemon_url, init=False) as daemon:
        # The seeding's two audit rows (person.add, card.assign) and the one event.
        assert (await daemon.seals.seal_pending()).sealed == 3
    for statement in (
        "DELETE FROM clock_events",
        "SELECT password_hash FROM accounts",
        "SELECT * FROM web_sessions",
        "DELETE FROM login_throttle",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM seals",
        "UPDATE corrections SET reason = 'x'",
        "INSERT INTO corrections (person_uid, kind, event_id, reason, created_by) "
        "VALUES ('ana', 'void', 1, 'x', 'gw')",
    ):
        with (
            psycopg.connect(daemon_url) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement)  # type: ignore[call-overload]
    async with open_stores(pg_url, init=False) as admin:
        [row] = await admin.people.unknown_swipes()
        assert row.count == 2
        assert len(await admin.events.events_since(0)) == 1
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT spool_depth FROM gateways").fetchall() == [(3,)]
        assert conn.execute("SELECT count(*) FROM clock_steps").fetchone() == (1,)
