"""Database URLs as people write them, and error text that never leaks a password."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.store.engine import normalise_url, sqlite_path
from gateway.store.failures import reason


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://clock:pw@db.lab:5433/clock", "postgresql+psycopg"),
        ("postgres://clock:pw@db.lab:5433/clock", "postgresql+psycopg"),
        ("postgresql+psycopg2://clock:pw@db.lab:5433/clock", "postgresql+psycopg"),
        ("sqlite:////var/lib/clock-gateway/clock-gateway.db", "sqlite+aiosqlite"),
        ("sqlite+pysqlite:////var/lib/clock-gateway/clock-gateway.db", "sqlite+aiosqlite"),
    ],
)
def test_urls_get_the_async_driver(given: str, driver: str) -> None:
    url = normalise_url(given)
    assert url.drivername == driver
    if driver.startswith("postgresql"):
        assert (url.host, url.port, url.database, url.password) == ("db.lab", 5433, "clock", "pw")
    else:
        assert str(sqlite_path(url)) == "/var/lib/clock-gateway/clock-gateway.db"


def test_in_memory_sqlite_has_no_file() -> None:
    assert sqlite_path(normalise_url("sqlite://")) is None
    assert sqlite_path(normalise_url("postgresql://h/db")) is None


@pytest.mark.parametrize("given", ["mysql://u:secret@h/db", "not a url"])
def test_other_urls_are_refused_without_the_password(given: str) -> None:
    with pytest.raises(ConfigError) as info:
        normalise_url(given)
    assert "secret" not in str(info.value)


def test_reasons_are_one_line_and_hide_passwords() -> None:
    error = RuntimeError(
        "could not connect: host=db password=hunter2 user=clock\n"
        "\tsee postgresql://clock:hunter2@db/clock"
    )
    text = reason(error)
    assert "\n" not in text and "hunter2" not in text
    assert "password=***" in text and "clock:***@db" in text
    assert len(reason(RuntimeError("x" * 1000))) <= 240


def test_libpq_multi_host_urls_become_lists_of_hosts_and_ports() -> None:
    """`h1:p1,h2:p2` (libpq's form, for failover) is read as two hosts, password intact."""
    from gateway.store.engine import libpq_conninfo

    url = normalise_url(
        "postgresql://clock:p%40ss,w@10.0.0.1:5432,10.0.0.2:5433/clock"
        "?target_session_attrs=read-write"
    )
    assert url.query["host"] == ("10.0.0.1:5432", "10.0.0.2:5433")
    assert (url.database, url.password) == ("clock", "p@ss,w")
    info = dict(part.split("=", 1) for part in libpq_conninfo(url).split())
    assert info["host"] == "10.0.0.1,10.0.0.2" and info["port"] == "5432,5433"
    assert info["target_session_attrs"] == "read-write" and info["password"] == "p@ss,w"
    # Without ports, and one host only: as before.
    assert normalise_url("postgresql://u@a,b/db").query["host"] == ("a", "b")
    assert normalise_url("postgresql://u@a:5/db").port == 5
