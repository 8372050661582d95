"""`[database]`: where the register lives, how long a swipe waits for it, and how the
connections go (a transaction-mode pooler, a direct path for LISTEN).

Split from gateway/config/__init__.py (the model and the other sections) to keep each
module one job; everything here is re-exported there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from gateway.config.fields import (
    Section,
    check_database_url,
    check_postgres_url,
    check_seconds,
    check_wait_s,
    one_of,
)
from gateway.errors import ConfigError

ENV_DATABASE_URL = "CLOCK_GATEWAY_DATABASE_URL"
MIN_DIRECTORY_REFRESH_S = 1.0  # faster is a query loop against the database
MAX_DIRECTORY_REFRESH_S = 86400.0
Pooler = Literal["none", "pgbouncer"]
POOLERS: tuple[Pooler, ...] = ("none", "pgbouncer")


@dataclass(frozen=True)
class DatabaseConfig:
    url: str
    # Bounded wait for the database on the swipe path; beyond it the swipe is spooled.
    wait_s: float = 1.0
    # How often the last-known card directory is refreshed from the database.
    directory_refresh_s: float = 60.0
    # "pgbouncer": `url` goes through a pooler in transaction mode that does not carry
    # prepared statements across its server connections (PgBouncer before 1.21, or
    # without max_prepared_statements): nothing is prepared on the server then.
    pooler: Pooler = "none"
    # Where LISTEN sessions go (a LISTEN is bound to its session: a transaction-mode
    # pooler cannot carry it): a direct URL. None: `url`, unless `pooler` is set, in
    # which case nothing LISTENs and card changes and the board are polled.
    listen_url: str | None = None


def parse_database(root: Section, state_dir: Path) -> DatabaseConfig:
    """The [database] table (and $CLOCK_GATEWAY_DATABASE_URL); problems go to root's list."""
    db = root.table("database")
    env_url = os.environ.get(ENV_DATABASE_URL)
    url = db.get("url", str, check=check_database_url)
    if env_url:
        if problem := check_database_url(env_url):
            root.problems.append(ConfigError(f"${ENV_DATABASE_URL}", None, problem))
        url = env_url
    if not url:
        url = f"sqlite:///{state_dir / 'clock-gateway.db'}"
    database = DatabaseConfig(
        url=url,
        wait_s=float(db.get("wait_s", (int, float), 1.0, check=check_wait_s)),
        directory_refresh_s=float(
            db.get(
                "directory_refresh_s",
                (int, float),
                60.0,
                check=check_seconds(MIN_DIRECTORY_REFRESH_S, MAX_DIRECTORY_REFRESH_S),
            )
        ),
        pooler=cast(Pooler, db.get("pooler", str, "none", check=one_of(POOLERS))),
        listen_url=db.get("listen_url", str, check=check_postgres_url) or None,
    )
    if not url.startswith("postgres"):
        if database.pooler != "none":
            db.fail("pooler", "is for PostgreSQL only (database.url is SQLite)")
        if database.listen_url:
            db.fail("listen_url", "is for PostgreSQL only (database.url is SQLite)")
    db.finish()
    return database
