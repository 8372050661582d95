"""SQLAlchemy Core tables mirroring schema.sql.

schema.sql is what PostgreSQL runs; this metadata builds every query and creates the
SQLite database. tests/store/test_schema_drift.py applies schema.sql to a real server,
creates this metadata in a second database and compares the two, so they cannot drift:
change both together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    event,
    func,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement

# Bumped with every change to schema.sql; gateway/store/upgrades/ holds one step per
# version after 1, for each backend.
SCHEMA_VERSION = 6

# The card-key format as a PostgreSQL regular expression (see gateway.domain).
CARD_KEY_PATTERN = "^([0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$"
# A month as overtime_choices keeps it, YYYY-MM (PostgreSQL regular expression).
MONTH_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])$"


class UtcDateTime(TypeDecorator[datetime]):
    """timestamptz that takes and returns aware UTC datetimes on every backend.

    SQLite has no time zone type: it keeps the text and returns naive datetimes, so
    values are converted to UTC before they are bound and marked UTC when read back.
    A naive datetime is refused: guessing its zone would shift a swipe by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given: times must be aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CardKeyFormat(ColumnElement[bool]):
    """CHECK expression for the card-key format, written for each backend.

    PostgreSQL has regular expressions; SQLite has none built in (REGEXP needs a
    function registered on every connection, which a plain sqlite3 shell lacks),
    so there the same rule is spelled with length() and GLOB.
    """

    inherit_cache = True

    def __init__(self, column: str) -> None:
        self.column = column


@compiles(CardKeyFormat)
def _card_key_format_pg(element: CardKeyFormat, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{element.column} ~ '{CARD_KEY_PATTERN}'"


@compiles(CardKeyFormat, "sqlite")
def _card_key_format_sqlite(element: CardKeyFormat, compiler: SQLCompiler, **kw: Any) -> str:
    c = element.column
    return f"length({c}) IN (8, 14, 20) AND {c} NOT GLOB '*[^0-9A-F]*'"


class MonthFormat(ColumnElement[bool]):
    """CHECK expression for a YYYY-MM month, per backend (as CardKeyFormat)."""

    inherit_cache = True

    def __init__(self, column: str) -> None:
        self.column = column


@compiles(MonthFormat)
def _month_format_pg(element: MonthFormat, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{element.column} ~ '{MONTH_PATTERN}'"


@compiles(MonthFormat, "sqlite")
def _month_format_sqlite(element: MonthFormat, compiler: SQLCompiler, **kw: Any) -> str:
    c = element.column
    return (
        f"length({c}) = 7 AND {c} GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]' "
        f"AND substr({c}, 6, 2) BETWEEN '01' AND '12'"
    )


# BIGINT identity on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the
# auto-incrementing rowid, so the key type differs there.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


def _id() -> Column[int]:
    return Column("id", _BigId, Identity(always=False), nullable=False)


def _key_check(table: str) -> CheckConstraint:
    return CheckConstraint(CardKeyFormat("card_key"), name=f"{table}_card_key_format")


def _now() -> Any:
    return func.now()  # CURRENT_TIMESTAMP on SQLite: UTC, which UtcDateTime expects


schema_version = Table(
    "schema_version",
    metadata,
    Column("id", SmallInteger, nullable=False, server_default=text("1"), autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False, server_default=_now()),
    PrimaryKeyConstraint("id", name="schema_version_pkey"),
    CheckConstraint("id = 1", name="schema_version_single_row"),
)

people = Table(
    "people",
    metadata,
    Column("uid", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False, server_default=_now()),
    Column("erased_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("uid", name="people_pkey"),
    CheckConstraint("uid <> ''", name="people_uid_not_empty"),
    CheckConstraint("name <> ''", name="people_name_not_empty"),
)

cards = Table(
    "cards",
    metadata,
    _id(),
    Column("card_key", Text, nullable=False),
    Column("person_uid", Text, nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False, server_default=_now()),
    Column("revoked_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="cards_pkey"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="cards_person_uid_fkey"),
    _key_check("cards"),
    CheckConstraint(
        "revoked_at IS NULL OR revoked_at >= assigned_at", name="cards_revoked_after_assigned"
    ),
)
Index(
    "cards_active_card_key",
    cards.c.card_key,
    unique=True,
    postgresql_where=cards.c.revoked_at.is_(None),
    sqlite_where=cards.c.revoked_at.is_(None),
)
Index("cards_person_uid", cards.c.person_uid)

clock_events = Table(
    "clock_events",
    metadata,
    _id(),
    Column("event_key", Uuid(as_uuid=True), nullable=False),
    Column("person_uid", Text, nullable=False),
    Column("card_key", Text, nullable=False),
    Column("direction", Text, nullable=False),
    Column("reader", Text, nullable=False),
    Column("reader_hw_id", Text, nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("stored_at", UtcDateTime, nullable=False, server_default=_now()),
    Column("outcome", Text, nullable=False, server_default=text("'recorded'")),
    # Version 2 added the columns below; an upgrade appends them, so they stay last.
    Column("gateway_id", Text, nullable=False, server_default=text("'default'")),
    Column("source", Text, nullable=False, server_default=text("'reader'")),
    Column("source_id", Text, nullable=True),
    PrimaryKeyConstraint("id", name="clock_events_pkey"),
    UniqueConstraint("event_key", name="clock_events_event_key_key"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="clock_events_person_uid_fkey"),
    _key_check("clock_events"),
    CheckConstraint("direction IN ('in', 'out')", name="clock_events_direction_valid"),
    CheckConstraint("outcome IN ('recorded', 'duplicate')", name="clock_events_outcome_valid"),
    CheckConstraint("source IN ('reader', 'import')", name="clock_events_source_valid"),
)
Index("clock_events_person_received", clock_events.c.person_uid, clock_events.c.received_at)
Index("clock_events_received", clock_events.c.received_at)
Index("clock_events_gateway_received", clock_events.c.gateway_id, clock_events.c.received_at)
Index(
    "clock_events_source_id",
    clock_events.c.source,
    clock_events.c.source_id,
    unique=True,
    postgresql_where=clock_events.c.source_id.is_not(None),
    sqlite_where=clock_events.c.source_id.is_not(None),
)

unknown_swipes = Table(
    "unknown_swipes",
    metadata,
    Column("card_key", Text, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Column("count", Integer, nullable=False),
    Column("last_reader", Text, nullable=False),
    Column("last_reader_hw_id", Text, nullable=True),
    Column("last_gateway_id", Text, nullable=False, server_default=text("'default'")),
    PrimaryKeyConstraint("card_key", name="unknown_swipes_pkey"),
    _key_check("unknown_swipes"),
    CheckConstraint("count > 0", name="unknown_swipes_count_positive"),
)

timetable = Table(
    "timetable",
    metadata,
    _id(),
    Column("person_uid", Text, nullable=False),
    Column("weekday", SmallInteger, nullable=False),
    Column("start_time", Time, nullable=False),
    Column("end_time", Time, nullable=False),
    Column("room", Text, nullable=False, server_default=text("''")),
    PrimaryKeyConstraint("id", name="timetable_pkey"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="timetable_person_uid_fkey"),
    CheckConstraint("weekday BETWEEN 1 AND 7", name="timetable_weekday_iso"),
    CheckConstraint("start_time <> end_time", name="timetable_not_empty"),
)
Index("timetable_weekday", timetable.c.weekday)

gateways = Table(
    "gateways",
    metadata,
    Column("id", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("hostname", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("spool_depth", Integer, nullable=False, server_default=text("0")),
    Column("last_write_at", UtcDateTime, nullable=True),
    Column("readers", Text, nullable=False, server_default=text("'[]'")),
    PrimaryKeyConstraint("id", name="gateways_pkey"),
)

# The roles an account may have; what each may do is gateway/web/roles.py's table.
ACCOUNT_ROLES = ("admin", "hr", "inspector", "representative", "worker")

accounts = Table(
    "accounts",
    metadata,
    Column("username", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, server_default=_now()),
    # Version 3 added the columns below (and renamed the table from admins).
    Column("role", Text, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    # Version 5 added the columns below: a worker's account is tied to exactly one
    # person (their own record), and a one-time code from hr must be changed at once.
    Column("person_uid", Text, nullable=True),
    Column("must_change_password", Boolean, nullable=False, server_default=text("false")),
    PrimaryKeyConstraint("username", name="accounts_pkey"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="accounts_person_uid_fkey"),
    CheckConstraint("username <> ''", name="accounts_username_not_empty"),
    CheckConstraint(
        "role IN (" + ", ".join(f"'{r}'" for r in ACCOUNT_ROLES) + ")", name="accounts_role_valid"
    ),
    CheckConstraint("(role = 'worker') = (person_uid IS NOT NULL)", name="accounts_worker_person"),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", Text, nullable=False),
    Column("username", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, server_default=_now()),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("address", Text, nullable=True),
    PrimaryKeyConstraint("id_hash", name="web_sessions_pkey"),
    ForeignKeyConstraint(
        ["username"],
        ["accounts.username"],
        name="web_sessions_username_fkey",
        ondelete="CASCADE",
    ),
)
Index("web_sessions_username", web_sessions.c.username)
Index("web_sessions_expires_at", web_sessions.c.expires_at)

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("subject", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("wait_until", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("subject", name="login_throttle_pkey"),
)
Index("login_throttle_last_at", login_throttle.c.last_at)

audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    Column("at", UtcDateTime, nullable=False, server_default=_now()),
    Column("actor", Text, nullable=False),
    Column("address", Text, nullable=True),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=True),
    Column("details", Text, nullable=False, server_default=text("'{}'")),
    PrimaryKeyConstraint("id", name="audit_log_pkey"),
)
Index("audit_log_at", audit_log.c.at)
# A person's audit trail: target = uid, newest first by id (schema v6).
Index("audit_log_target", audit_log.c.target, audit_log.c.id)

corrections = Table(
    "corrections",
    metadata,
    _id(),
    Column("person_uid", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("direction", Text, nullable=True),
    Column("at", UtcDateTime, nullable=True),
    Column("event_id", _BigId, nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, server_default=_now()),
    PrimaryKeyConstraint("id", name="corrections_pkey"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="corrections_person_uid_fkey"),
    ForeignKeyConstraint(["event_id"], ["clock_events.id"], name="corrections_event_id_fkey"),
    CheckConstraint("kind IN ('add', 'void')", name="corrections_kind_valid"),
    CheckConstraint("direction IN ('in', 'out')", name="corrections_direction_valid"),
    CheckConstraint("reason <> ''", name="corrections_reason_not_empty"),
    CheckConstraint(
        "(kind = 'add' AND direction IS NOT NULL AND at IS NOT NULL AND event_id IS NULL) "
        "OR (kind = 'void' AND event_id IS NOT NULL AND at IS NULL)",
        name="corrections_shape",
    ),
)
Index("corrections_person_at", corrections.c.person_uid, corrections.c.at)

clock_steps = Table(
    "clock_steps",
    metadata,
    _id(),
    Column("gateway_id", Text, nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("step_s", Double, nullable=False),
    PrimaryKeyConstraint("id", name="clock_steps_pkey"),
)
Index("clock_steps_detected_at", clock_steps.c.detected_at)

# == Schema v3: the working-time register's seals (docs/REGISTER.md) =====================
# Kept in one block, as in schema.sql: the chain of seals over every clock event,
# correction and audit row, and the guards that keep those rows append-only.

seals = Table(
    "seals",
    metadata,
    # The position in the chain: 1, 2, 3... given by the sealer (one at a time), not a
    # sequence, so that a gap means a deleted seal.
    Column("seq", _BigId, nullable=False, autoincrement=False),
    Column("kind", Text, nullable=False),
    Column("row_id", _BigId, nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev", Text, nullable=False),
    Column("seal", Text, nullable=False),
    Column("sealed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("seq", name="seals_pkey"),
    UniqueConstraint("kind", "row_id", name="seals_kind_row_id_key"),
    CheckConstraint(
        "kind IN ('event', 'correction', 'step', 'regime', 'overtime', 'audit', 'checkpoint')",
        name="seals_kind_valid",
    ),
    CheckConstraint("seq > 0", name="seals_seq_positive"),
)
Index("seals_sealed_at", seals.c.sealed_at)

# == Schema v5: working time as the law counts it (issue 22; docs/REGISTER.md) ===========
# Register rows too (sealed, append-only): a person's working regime from a date (the
# newest valid_from on or before a day is in force), hr's paid/rest choice for one
# person's overtime in one month (the newest row wins), and the agreement trail of a
# correction (no step: a correction made before v5, in force; last step 'proposed':
# pending; 'accepted': in force; 'rejected' or 'withdrawn': not in force).

work_regimes = Table(
    "work_regimes",
    metadata,
    _id(),
    Column("person_uid", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("kind", Text, nullable=False),
    # The contract's week in minutes (full time: the configured full week, 2400 = 40 h).
    Column("weekly_minutes", Integer, nullable=False),
    Column("part_time_percent", Integer, nullable=True),
    Column("place", Text, nullable=False),
    Column("overtime_default", Text, nullable=False, server_default=text("'paid'")),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, server_default=_now()),
    PrimaryKeyConstraint("id", name="work_regimes_pkey"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="work_regimes_person_uid_fkey"),
    CheckConstraint("kind IN ('full_time', 'part_time')", name="work_regimes_kind_valid"),
    CheckConstraint("weekly_minutes > 0", name="work_regimes_weekly_minutes_positive"),
    CheckConstraint(
        "part_time_percent BETWEEN 1 AND 99", name="work_regimes_part_time_percent_range"
    ),
    CheckConstraint(
        "(kind = 'part_time') = (part_time_percent IS NOT NULL)",
        name="work_regimes_percent_for_part_time",
    ),
    CheckConstraint("place IN ('on_site', 'remote', 'mixed')", name="work_regimes_place_valid"),
    CheckConstraint(
        "overtime_default IN ('paid', 'rest')", name="work_regimes_overtime_default_valid"
    ),
)
Index("work_regimes_person_valid_from", work_regimes.c.person_uid, work_regimes.c.valid_from)

overtime_choices = Table(
    "overtime_choices",
    metadata,
    _id(),
    Column("person_uid", Text, nullable=False),
    Column("month", Text, nullable=False),
    Column("choice", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, server_default=_now()),
    PrimaryKeyConstraint("id", name="overtime_choices_pkey"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="overtime_choices_person_uid_fkey"),
    CheckConstraint(MonthFormat("month"), name="overtime_choices_month_format"),
    CheckConstraint("choice IN ('paid', 'rest')", name="overtime_choices_choice_valid"),
)
Index("overtime_choices_person_month", overtime_choices.c.person_uid, overtime_choices.c.month)

correction_steps = Table(
    "correction_steps",
    metadata,
    _id(),
    Column("correction_id", _BigId, nullable=False),
    Column("step", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("note", Text, nullable=False, server_default=text("''")),
    Column("at", UtcDateTime, nullable=False, server_default=_now()),
    PrimaryKeyConstraint("id", name="correction_steps_pkey"),
    ForeignKeyConstraint(
        ["correction_id"], ["corrections.id"], name="correction_steps_correction_id_fkey"
    ),
    CheckConstraint(
        "step IN ('proposed', 'accepted', 'rejected', 'withdrawn')",
        name="correction_steps_step_valid",
    ),
    CheckConstraint("side IN ('company', 'worker')", name="correction_steps_side_valid"),
)
Index("correction_steps_correction_id", correction_steps.c.correction_id)

# Operational, not sealed: one notice per person and day of a forgotten clock-out,
# when it was found and mailed, and the correction proposed to close it.
open_day_notices = Table(
    "open_day_notices",
    metadata,
    Column("person_uid", Text, nullable=False),
    Column("day", Date, nullable=False),
    Column("flagged_at", UtcDateTime, nullable=False),
    Column("mailed_at", UtcDateTime, nullable=True),
    Column("correction_id", _BigId, nullable=True),
    PrimaryKeyConstraint("person_uid", "day", name="open_day_notices_pkey"),
    ForeignKeyConstraint(["person_uid"], ["people.uid"], name="open_day_notices_person_uid_fkey"),
    ForeignKeyConstraint(
        ["correction_id"], ["corrections.id"], name="open_day_notices_correction_id_fkey"
    ),
)

# The register's tables and the column a retention purge goes by. Both backends refuse
# every UPDATE and every DELETE of a row younger than REGISTER_KEEP_YEARS (PostgreSQL in
# schema.sql, SQLite through the triggers below); the purge deletes only older rows.
REGISTER_KEEP_YEARS = 4
REGISTER_GUARDED = (
    ("clock_events", "received_at"),
    ("corrections", "created_at"),
    ("audit_log", "at"),
    ("seals", "sealed_at"),
    # Schema v5.
    ("work_regimes", "created_at"),
    ("overtime_choices", "created_at"),
    ("correction_steps", "at"),
)


def sqlite_register_triggers() -> list[str]:
    """The SQLite guards, as created by metadata.create_all and by upgrade step 0003
    (tests/register/test_guards.py checks that the two agree)."""
    statements = []
    for table, column in REGISTER_GUARDED:
        refused = f"the working-time register is append-only: {table} rows"
        statements.append(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}\n"
            f"BEGIN SELECT RAISE(ABORT, '{refused} are never updated'); END"
        )
        statements.append(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}\n"
            f"WHEN OLD.{column} >= datetime('now', '-{REGISTER_KEEP_YEARS} years')\n"
            f"BEGIN SELECT RAISE(ABORT, '{refused} are kept {REGISTER_KEEP_YEARS} years'); END"
        )
    return statements


def _create_sqlite_guards(target: Any, connection: Connection, **kw: Any) -> None:
    # PostgreSQL's guards are in schema.sql (a function and its triggers).
    if connection.dialect.name == "sqlite":
        # create_all runs again on every `db init`: the triggers may be there already
        # (SQLite drops IF NOT EXISTS from the text it keeps, so step 0003 compares equal).
        for statement in sqlite_register_triggers():
            connection.exec_driver_sql(
                statement.replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1)
            )


event.listen(metadata, "after_create", _create_sqlite_guards)

__all__ = [
    "ACCOUNT_ROLES",
    "CARD_KEY_PATTERN",
    "MONTH_PATTERN",
    "REGISTER_GUARDED",
    "REGISTER_KEEP_YEARS",
    "SCHEMA_VERSION",
    "CardKeyFormat",
    "MonthFormat",
    "UtcDateTime",
    "accounts",
    "audit_log",
    "cards",
    "clock_events",
    "clock_steps",
    "correction_steps",
    "corrections",
    "gateways",
    "login_throttle",
    "metadata",
    "open_day_notices",
    "overtime_choices",
    "people",
    "schema_version",
    "seals",
    "sqlite_register_triggers",
    "timetable",
    "unknown_swipes",
    "web_sessions",
    "work_regimes",
]
