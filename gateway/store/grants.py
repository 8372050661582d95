"""Least-privilege roles on PostgreSQL: the daemon's and the web's.

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
- With schema v3 (the register's seals): SELECT on clock_events, corrections and
  audit_log, because its sealer reads every row it seals, and SELECT, INSERT on seals.
  Still no UPDATE or DELETE on any of them.
- With schema v5: SELECT on correction_steps, work_regimes and overtime_choices,
  which its sealer seals too.

What a column grant cannot stop: the daemon still chooses the person, time and
outcome of the events it writes; it is trusted with those, as it must be.

`clock-gateway db grant-web ROLE` gives the web app's role what its pages do: read
everything, manage people, cards, the timetable and the logins, add corrections and
audit rows; and, like the daemon, never UPDATE or DELETE an event, a correction, an
audit row or a seal (the register is append-only: docs/REGISTER.md).
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
# The register's tables: no application role may UPDATE or DELETE them.
REGISTER_TABLES = (
    "clock_events",
    "corrections",
    "audit_log",
    "seals",
    "work_regimes",
    "overtime_choices",
    "correction_steps",
)
# Schema v5's sealed tables, which the daemon's sealer reads like the others.
SEALED_V5 = ("correction_steps", "work_regimes", "overtime_choices")
# What the web's pages change, table by table (every table is readable); a table added
# to the schema is read-only to the web until it is listed here.
WEB_WRITES: dict[str, str] = {
    "people": "INSERT, UPDATE",
    "cards": "INSERT, UPDATE",
    "timetable": "INSERT, UPDATE, DELETE",
    "accounts": "INSERT, UPDATE, DELETE",
    "web_sessions": "INSERT, UPDATE, DELETE",
    "login_throttle": "INSERT, UPDATE, DELETE",
    "corrections": "INSERT",
    "audit_log": "INSERT",
    # Schema v5: regimes, overtime choices and a correction's steps are only added to;
    # an open-day notice is found, then marked mailed and given its proposed close.
    "work_regimes": "INSERT",
    "overtime_choices": "INSERT",
    "correction_steps": "INSERT",
    "open_day_notices": "INSERT, UPDATE",
}


@dataclass(frozen=True)
class Plan:
    role: str
    database: str
    statements: list[str]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Catalogue:
    database: str
    columns: set[tuple[str, str]]
    sequences: dict[str, str]  # table -> its id sequence

    @property
    def tables(self) -> set[str]:
        return {t for t, _ in self.columns}


async def _catalogue(db: Database, role: str, command: str) -> _Catalogue:
    if db.dialect != "postgresql":
        raise GatewayError(f"db {command} is for PostgreSQL: SQLite has no roles")
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
        sequences = {
            str(r.table_name): str(r.seq)
            for r in await conn.execute(
                text(
                    "SELECT c.table_name, pg_get_serial_sequence('public.' || c.table_name, "
                    "c.column_name) AS seq FROM information_schema.columns c "
                    "WHERE c.table_schema = 'public' AND c.column_name = 'id' "
                    "AND pg_get_serial_sequence('public.' || c.table_name, c.column_name) "
                    "IS NOT NULL"
                )
            )
        }
    if not exists:
        raise NotFoundError(
            f"no role {role!r}: a superuser creates it first, e.g. "
            f"'sudo -u postgres createuser --pwprompt {role}'"
        )
    if "clock_events" not in {t for t, _ in columns}:
        raise GatewayError("no clock-gateway schema here: run 'clock-gateway db init' first")
    return _Catalogue(str(database), columns, sequences)


def _connect(role: str, database: str) -> list[str]:
    r, d = _ident(role), _ident(database)
    return [
        f"REVOKE ALL ON DATABASE {d} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {d} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {r}",
    ]


async def plan_daemon_grants(db: Database, role: str) -> Plan:
    """The GRANT and REVOKE statements for `role` on this database (nothing run)."""
    found = await _catalogue(db, role, "grant-daemon")
    columns, tables, r = found.columns, found.tables, _ident(role)
    event_columns = [c for c in (*EVENT_COLUMNS, "gateway_id") if ("clock_events", c) in columns]
    unknown_updated = [
        c for c in (*UNKNOWN_UPDATED, "last_gateway_id") if ("unknown_swipes", c) in columns
    ]
    statements = [
        *_connect(role, found.database),
        f"GRANT SELECT ON schema_version, people, cards TO {r}",
        f"GRANT INSERT ({', '.join(event_columns)}) ON clock_events TO {r}",
        f"GRANT INSERT, SELECT ON unknown_swipes TO {r}",
        f"GRANT UPDATE ({', '.join(unknown_updated)}) ON unknown_swipes TO {r}",
    ]
    if "seals" in tables:
        # The sealer reads every row it seals, and appends seals; it changes nothing.
        sealed = ["clock_events", "corrections", "audit_log"]
        sealed += [t for t in SEALED_V5 if t in tables]
        statements.append(f"GRANT SELECT ON {', '.join(sealed)} TO {r}")
        statements.append(f"GRANT SELECT, INSERT ON seals TO {r}")
    else:
        statements.append(f"GRANT SELECT (event_key) ON clock_events TO {r}")
    if sequence := found.sequences.get("clock_events"):
        statements.append(f"GRANT USAGE ON SEQUENCE {sequence} TO {r}")
    if "gateways" in tables:
        statements.append(f"GRANT SELECT, INSERT, UPDATE ON gateways TO {r}")
    if "clock_steps" in tables:
        step_columns = [
            c for c in ("gateway_id", "detected_at", "step_s") if ("clock_steps", c) in columns
        ]
        statements.append(f"GRANT INSERT ({', '.join(step_columns)}) ON clock_steps TO {r}")
        if steps_seq := found.sequences.get("clock_steps"):
            statements.append(f"GRANT USAGE ON SEQUENCE {steps_seq} TO {r}")
    return Plan(role, found.database, statements)


async def plan_web_grants(db: Database, role: str) -> Plan:
    """The statements for the web app's role: read all, change only what its pages do."""
    found = await _catalogue(db, role, "grant-web")
    r = _ident(role)
    tables = sorted(found.tables)
    statements = [
        *_connect(role, found.database),
        f"GRANT SELECT ON {', '.join(tables)} TO {r}",
    ]
    for table, privileges in WEB_WRITES.items():
        if table not in found.tables:
            continue
        statements.append(f"GRANT {privileges} ON {table} TO {r}")
        if sequence := found.sequences.get(table):
            statements.append(f"GRANT USAGE ON SEQUENCE {sequence} TO {r}")
    return Plan(role, found.database, statements)


async def grant_daemon(db: Database, role: str) -> Plan:
    """Apply the plan in one transaction, as the connected (owner) role."""
    return await _apply(db, await plan_daemon_grants(db, role))


async def grant_web(db: Database, role: str) -> Plan:
    return await _apply(db, await plan_web_grants(db, role))


async def _apply(db: Database, plan: Plan) -> Plan:
    async with db.tx(write=True) as conn:
        for statement in plan.statements:
            await conn.execute(text(statement))
    return plan
