"""Configuration: defaults, overrides and one-line errors for every kind of mistake."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.clocking.messages import LOCALES
from gateway.config import (
    ENV_DATABASE_URL,
    database_url_problem,
    load_config,
    parse_config,
    redact_url,
)
from gateway.errors import ConfigError, ExitCode

GOOD = """
[gateway]
timezone = "Europe/Madrid"
duplicate_window_s = 3

[database]
url = "postgresql://clock:s3cret@db.example/clock"

[messages]
locale = "es"

[[readers]]
name = "entrance"
port = "/dev/serial/by-id/usb-Arduino_Uno_1-if00"
role = "in"

[[readers]]
name = "exit"
port = "/dev/ttyACM1"
role = "out"
baud = 57600
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def test_good_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert [r.name for r in config.readers] == ["entrance", "exit"]
    assert config.readers[0].baud == 115200
    assert config.readers[1].role == "out" and config.readers[1].baud == 57600
    assert config.locale == "es"
    assert config.duplicate_window_s == 3.0
    assert config.zone.key == "Europe/Madrid"


def test_defaults_use_sqlite_in_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOCK_GATEWAY_STATE_DIR", str(tmp_path))
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    config = parse_config({}, "<defaults>")
    assert config.database.url == f"sqlite:///{tmp_path / 'clock-gateway.db'}"
    assert config.readers == ()


def test_environment_overrides_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_DATABASE_URL, "postgresql://u:pw@h/db")
    assert load_config(write(tmp_path, GOOD)).database.url == "postgresql://u:pw@h/db"


def test_redact_url() -> None:
    assert redact_url("postgresql://clock:s3cret@db/clock") == "postgresql://clock:***@db/clock"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[gateway\n", "TOML syntax error"),
        ("[gateway]\ncolour = 'blue'\n", "gateway.colour: unknown key"),
        ("bogus = 1\n", "bogus: unknown key"),
        ("[gateway]\nduplicate_window_s = 'five'\n", "gateway.duplicate_window_s: must be"),
        ("[gateway]\nduplicate_window_s = true\n", "gateway.duplicate_window_s: must be"),
        ("[gateway]\ntimezone = 'Mars/Base'\n", "unknown time zone"),
        ("[[readers]]\nname = 'a'\nrole = 'in'\n", "readers[0].port: missing (required)"),
        ("[[readers]]\nname = 'a'\nport = '/dev/x'\nrole = 'sideways'\n", "readers[0].role"),
        ("[[readers]]\nname = 'a'\nport = '/dev/x'\nrole = 'in'\nbaud = 1234\n", "baud"),
        (
            "[[readers]]\nname = 'a'\nport = '/dev/x'\nrole = 'in'\n"
            "[[readers]]\nname = 'a'\nport = '/dev/y'\nrole = 'out'\n",
            "readers[1].name: duplicate reader name 'a'",
        ),
        (
            "[[readers]]\nname = 'a'\nport = '/dev/x'\nrole = 'in'\n"
            "[[readers]]\nname = 'b'\nport = '/dev/x'\nrole = 'out'\n",
            "readers[1].port: port '/dev/x' is already used",
        ),
        ("[database]\nurl = 'mysql://x'\n", "database.url: must be a postgresql"),
        ("[messages]\nlocale = 'fr'\n", "messages.locale: must be one of en, es"),
        ("[messages.templates]\nhello = 'x'\n", "messages.templates.hello: unknown key"),
        ("readers = 3\n", "readers: must be a list"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert needle in message
    assert message.startswith(path)
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(str(tmp_path / "nope.toml"))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_reports_bad_config_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[[readers]]\nname = 'a'\nrole = 'in'\n")
    result = run_cli("config", "check", "--config", path)
    assert result.returncode == ExitCode.CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "readers[0].port: missing (required)" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_config_show_redacts_password(tmp_path: Path) -> None:
    result = run_cli("config", "show", "--json", "--config", write(tmp_path, GOOD))
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout
    assert "clock:***@db.example" in result.stdout


def test_cli_version_and_help() -> None:
    assert run_cli("--version").stdout.startswith("clock-gateway ")
    result = run_cli("--help")
    assert result.returncode == 0 and "config" in result.stdout


def test_shipped_example_config_is_valid() -> None:
    # README and the service install both point at it: it must never drift from the parser.
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    config = load_config(str(example))
    assert {r.role for r in config.readers} == {"in", "out"}
    # The example turns nothing on: apart from its readers it is the defaults.
    defaults = parse_config({}, "<defaults>")
    assert replace(config, readers=(), source="") == replace(defaults, source="")


def test_the_examples_commented_lines_are_its_defaults() -> None:
    """Uncommenting every `# key = value` line of the example changes nothing."""
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    lines = example.read_text(encoding="utf-8").splitlines()
    uncommented = [re.sub(r"^# (\w+ = .*)$", r"\1", line) for line in lines]
    assert uncommented != lines
    data = tomllib.loads("\n".join(uncommented))
    config = parse_config(data, "x")
    assert replace(config, source="", templates={}) == replace(load_config(str(example)), source="")
    # The templates shown are the default locale's own texts.
    assert config.templates and all(
        LOCALES["en"][key] == text for key, text in config.templates.items()
    )


def test_web_section_defaults_and_checks(tmp_path: Path) -> None:
    config = parse_config({}, "<test>")
    assert (config.web.bind, config.web.port, config.web.board_token) == ("127.0.0.1", 8080, None)
    assert config.web.retention_years == 4
    assert config.session_secret_path == config.state_dir / "web-session.key"
    token = "A" * 20
    good = parse_config({"web": {"port": 9000, "board_token": token, "retention_years": 5}}, "f")
    assert (good.web.port, good.web.board_token, good.web.retention_years) == (9000, token, 5)
    for bad, key in (
        ({"port": 0}, "web.port"),
        ({"board_token": "short"}, "web.board_token"),
        ({"board_token": "has spaces in it, many"}, "web.board_token"),
        ({"retention_years": 3}, "web.retention_years"),
        ({"session_hours": 0}, "web.session_hours"),
        ({"secure_cookies": "yes"}, "web.secure_cookies"),
        ({"colour": "blue"}, "web.colour"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config({"web": bad}, "f")
        assert info.value.key == key, bad


def test_config_show_hides_the_board_token(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[web]\nboard_token = "tv-token-0123456789abcdef"\n')
    result = run_cli("config", "show", "--json", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert "tv-token-0123456789abcdef" not in result.stdout


@pytest.mark.parametrize(
    ("url", "bad"),
    [
        ("postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write", False),
        ("postgresql://u:pw@h1,h2:5433/db", False),
        ("postgresql://u:pw@[::1]:5432,h2:5433/db", False),
        ("postgresql://u:pw@h1:5432,h2:99999/db", True),
        ("postgresql://u:pw@h1:x,h2:5433/db", True),
    ],
)
def test_multi_host_url_checks_each_port(url: str, bad: bool) -> None:
    """libpq's failover form h1:p1,h2:p2 passes; a bad port on any host is named."""
    problem = database_url_problem(url)
    assert (problem is not None) == bad
    if problem:
        assert "bad port" in problem and "pw" not in problem
