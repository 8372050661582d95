"""[database] pooler and listen_url (issue 24 item 19): parsed, checked, and honoured."""

from __future__ import annotations

import pytest

from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.store.database import Database

PG = "postgresql://clock:pw@bouncer:6432/clock"
DIRECT = "postgresql://clock:pw@db:5432/clock"


def _database(**values: object) -> object:
    return parse_config({"database": values}, "<test>").database


def test_defaults_prepare_and_listen_on_the_main_url() -> None:
    database = _database(url=PG)
    assert (database.pooler, database.listen_url) == ("none", None)  # type: ignore[attr-defined]
    db = Database(PG)
    assert db.server_prepares
    listener = db.listener(["c"], lambda _r: None, name="card")
    assert listener is not None and "bouncer" in listener._conninfo


def test_a_pooler_turns_server_prepares_off_and_listens_on_listen_url() -> None:
    database = _database(url=PG, pooler="pgbouncer", listen_url=DIRECT)
    assert database.pooler == "pgbouncer"  # type: ignore[attr-defined]
    db = Database(PG, pooler="pgbouncer", listen_url=DIRECT)
    assert not db.server_prepares
    listener = db.listener(["c"], lambda _r: None, name="card")
    assert listener is not None and "host=db" in listener._conninfo


def test_a_pooler_without_listen_url_does_not_listen_through_it() -> None:
    db = Database(PG, pooler="pgbouncer")
    assert db.listener(["c"], lambda _r: None, name="card") is None


def test_fleet_notify_url_is_the_older_spelling_of_listen_url() -> None:
    config = parse_config(
        {"database": {"url": PG, "pooler": "pgbouncer"}, "fleet": {"notify_url": DIRECT}}, "<t>"
    )
    assert config.database.listen_url == DIRECT


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"url": PG, "pooler": "pgcat"}, "pooler"),
        ({"url": "sqlite:////tmp/x.db", "pooler": "pgbouncer"}, "pooler"),
        ({"url": "sqlite:////tmp/x.db", "listen_url": DIRECT}, "listen_url"),
        ({"url": PG, "listen_url": "mysql://x@y/z"}, "listen_url"),
    ],
)
def test_bad_pooler_settings_are_one_clear_line(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        _database(**values)
    assert key in str(info.value) and "\n" not in str(info.value).strip()
