"""The daemon's least-privilege role on PostgreSQL: exactly what the swipe path needs.

`clock-gateway db grant-daemon ROLE`, run as the database's owner (the role that ran
`db init`), after a superuser created ROLE (`createuser --pwprompt ROLE`: the owner
is not allowed to create roles). What the daemon gets, and why:

- CONNECT on the database, revoked from PUBLIC, so that no other role can connect
  unless granted; USAGE on schema public.
- SELECT on schema_version (db check), people and cards (card lookups).
- clock_events: INSERT on the columns the daemon writes only. Not `id` (an explicit
  id of 9e18 would move every export cursor past all later events) and not
  `stored_at` (the database's own clock says when a row was stored). SELECT on
  `event_key` only (INSERT .. ON CONFLICT (event_key) .. RETURNING event_key), USAGE
  on the id sequence. No UPDATE, no DELETE: events are never changed.
- unknown_swipes: the enrolment list is an upsert (INSERT, SELECT, UPDATE of the
  counters and the last reader).
- With schema v2: the gateways row it upserts, and INSERT on clock_steps.

What a column grant cannot stop: the daemon still chooses the person, time and
outcome of the events it writes; it is trusted with those, as it must be.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from gateway.errors import GatewayError, InvalidInputError, NotFoundError
from gateway.store.database import Database

# Columns of clock_events the daemon writes; v2 adds gateway_id (not `source`: only
# imports write 'import').
EVENT_COLUMNS = (
    "event_key",
    "person_uid",
    "card_key",
    "direction",
    "reader",
    "reader_hw_id",
    "received_at",
    "outcome",
)
UNKNOWN_UPDATED = ("first_seen", "last_seen", "count", "last_reader", "last_reader_hw_id")


@dataclass(frozen=True)
class Plan:
    role: str
    database: str
    statements: list[str]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def plan_daemon_grants(db: Database, role: str) -> Plan:
    """The GRANT and REVOKE statements for `role` on this database (nothing run)."""
    if db.dialect != "postgresql":
        raise GatewayError("db grant-daemon is for PostgreSQL: SQLite has no roles")
    if not role or len(role) > 63 or "\x00" in role:
        raise InvalidInputError(f"invalid role name {role!r}")
    async with db.tx() as conn:
        exists = await conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        database = await conn.scalar(text("SELECT current_database()"))
        columns = {
            (r.table_name, r.column_name)
            for r in await conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public'"
                )
            )
        }
        sequence = await conn.scalar(
            text("SELECT pg_get_serial_sequence('public.clock_events', 'id')")
        )
    if not exists:
        raise NotFoundError(
            f"no role {role!r}: a superuser creates it first, e.g. "
            f"'sudo -u postgres createuser --pwprompt {role}'"
        )
    tables = {t for t, _ in columns}
    if "clock_events" not in tables:
        raise GatewayError("no clock-gateway schema here: run 'clock-gateway db init' first")
    r, d = _ident(role), _ident(str(database))
    event_columns = [c for c in (*EVENT_COLUMNS, "gateway_id") if ("clock_events", c) in columns]
    unknown_updated = [
        c for c in (*UNKNOWN_UPDATED, "last_gateway_id") if ("unknown_swipes", c) in columns
    ]
    statements = [
        f"REVOKE ALL ON DATABASE {d} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {d} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {r}",
        f"GRANT SELECT ON schema_version, people, cards TO {r}",
        f"GRANT INSERT ({', '.join(event_columns)}) ON clock_events TO {r}",
        f"GRANT SELECT (event_key) ON clock_events TO {r}",
        f"GRANT INSERT, SELECT ON unknown_swipes TO {r}",
        f"GRANT UPDATE ({', '.join(unknown_updated)}) ON unknown_swipes TO {r}",
    ]
    if sequence:
        statements.append(f"GRANT USAGE ON SEQUENCE {sequence} TO {r}")
    if "gateways" in tables:
        statements.append(f"GRANT SELECT, INSERT, UPDATE ON gateways TO {r}")
    if "clock_steps" in tables:
        step_columns = [
            c for c in ("gateway_id", "detected_at", "step_s") if ("clock_steps", c) in columns
        ]
        statements.append(f"GRANT INSERT ({', '.join(step_columns)}) ON clock_steps TO {r}")
        async with db.tx() as conn:
            steps_seq = await conn.scalar(
                text("SELECT pg_get_serial_sequence('public.clock_steps', 'id')")
            )
        if steps_seq:
            statements.append(f"GRANT USAGE ON SEQUENCE {steps_seq} TO {r}")
    return Plan(role, str(database), statements)


async def grant_daemon(db: Database, role: str) -> Plan:
    """Apply the plan in one transaction, as the connected (owner) role."""
    plan = await plan_daemon_grants(db, role)
    async with db.tx(write=True) as conn:
        for statement in plan.statements:
            await conn.execute(text(statement))
    return plan
