"""Configuration of a gateway in a fleet: its id, the metrics endpoint, heartbeats."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ENV_NOTIFY_URL, default_gateway_id, parse_config, parse_listen
from gateway.errors import ConfigError


def test_defaults() -> None:
    config = parse_config({}, "<t>")
    assert config.gateway_id == default_gateway_id()
    assert config.metrics.listen is None  # off unless asked for
    assert config.fleet.heartbeat_s == 15.0 and config.fleet.silent_after_s == 120.0


def test_explicit_values() -> None:
    config = parse_config(
        {
            "gateway": {"id": "building-B.2"},
            "metrics": {"listen": "127.0.0.1:9108"},
            "fleet": {"heartbeat_s": 5, "silent_after_s": 30},
        },
        "<t>",
    )
    assert config.gateway_id == "building-B.2"
    assert config.metrics.listen == ("127.0.0.1", 9108)
    assert (config.fleet.heartbeat_s, config.fleet.silent_after_s) == (5.0, 30.0)
    assert parse_config({"metrics": {"listen": ""}}, "<t>").metrics.listen is None


def test_notify_url_from_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_NOTIFY_URL, raising=False)
    assert parse_config({}, "<t>").fleet.notify_url is None
    direct = "postgresql://clock:s3cret@db-direct:5432/clock"
    config = parse_config({"fleet": {"notify_url": direct}}, "<t>")
    assert config.fleet.notify_url == direct
    monkeypatch.setenv(ENV_NOTIFY_URL, "postgresql://clock:other@db2/clock")
    assert parse_config({}, "<t>").fleet.notify_url == "postgresql://clock:other@db2/clock"
    monkeypatch.delenv(ENV_NOTIFY_URL)
    with pytest.raises(ConfigError, match=r"fleet\.notify_url: must be a postgresql"):
        parse_config({"fleet": {"notify_url": "sqlite:///x.db"}}, "<t>")
    # `config show` never prints its password.
    path = tmp_path / "c.toml"
    path.write_text(f'[fleet]\nnotify_url = "{direct}"\n')
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "config", "show", "--json", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout and "clock:***@db-direct" in result.stdout


def test_default_id_is_the_sanitised_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "Büro PC#1.example.org")
    assert default_gateway_id() == "B-ro-PC-1"
    monkeypatch.setattr(socket, "gethostname", lambda: "---")
    assert default_gateway_id() == "gateway"
    monkeypatch.setattr(socket, "gethostname", lambda: "x" * 80)
    assert default_gateway_id() == "x" * 63
    # Whatever the host name, the default passes the id's own validation.
    monkeypatch.setattr(socket, "gethostname", lambda: "_odd name!")
    assert parse_config({}, "<t>").gateway_id == "odd-name-"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9108", ("127.0.0.1", 9108)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:9108", ("::1", 9108)),
        ("localhost:9108", ("127.0.0.1", 9108)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("9108", None),
        ("127.0.0.1", None),
        ("127.0.0.1:65536", None),
        ("300.0.0.1:9108", None),
        ("metrics.example:9108", None),
        ("::1:9108", None),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int] | None) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"gateway": {"id": ""}}, "gateway.id: must be 1-63 letters"),
        ({"gateway": {"id": "has space"}}, "gateway.id: must be"),
        ({"gateway": {"id": "-dash"}}, "gateway.id: must be"),
        ({"gateway": {"id": "x" * 64}}, "gateway.id: must be"),
        ({"gateway": {"id": 7}}, "gateway.id: must be a string"),
        ({"metrics": {"listen": "9108"}}, "metrics.listen: must be HOST:PORT"),
        ({"metrics": {"listen": 9108}}, "metrics.listen: must be a string"),
        ({"metrics": {"port": 9108}}, "metrics.port: unknown key"),
        ({"fleet": {"heartbeat_s": 0}}, "fleet.heartbeat_s: must be from 1 to 3600 seconds"),
        ({"fleet": {"heartbeat_s": float("inf")}}, "fleet.heartbeat_s: must be from 1"),
        ({"fleet": {"silent_after_s": 10}}, "fleet.silent_after_s: must be longer than"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "/etc/clock-gateway/config.toml")
    message = str(info.value)
    assert needle in message and "\n" not in message
