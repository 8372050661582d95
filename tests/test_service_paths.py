"""Admin commands and the service agree: the state directory, the env file, file owners."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import gateway.cli.common
import gateway.config
from gateway.cli.envfile import ENV_ADMIN_DATABASE_URL, load_env_file, parse_env_file
from gateway.cli.main import main
from gateway.cli.state_owner import hand_back
from gateway.config import ENV_DATABASE_URL, default_state_dir, parse_config
from gateway.errors import ConfigError

DAEMON_UID = 1  # Debian's `daemon` user stands in for the service's clock-gateway user

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes file owners: needs root")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in (
        ENV_DATABASE_URL,
        ENV_ADMIN_DATABASE_URL,
        "CLOCK_GATEWAY_STATE_DIR",
        "STATE_DIRECTORY",
        "CLOCK_GATEWAY_CONFIG",
    ):
        # setenv first: monkeypatch then remembers the variable's absence, and removes
        # what the env-file loader sets in os.environ behind its back.
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    return monkeypatch


def test_root_and_the_service_config_use_the_service_state_dir(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setattr(gateway.config, "SERVICE_CONFIG", tmp_path / "config.toml")
    (tmp_path / "config.toml").write_text("")
    service = parse_config({}, str(tmp_path / "config.toml"))
    assert service.state_dir == Path("/var/lib/clock-gateway")
    clean_env.setattr(os, "geteuid", lambda: 1000)
    clean_env.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert parse_config({}, "<defaults>").state_dir == tmp_path / "xdg" / "clock-gateway"
    clean_env.setattr(os, "geteuid", lambda: 0)
    assert default_state_dir() == Path("/var/lib/clock-gateway")
    clean_env.setenv("STATE_DIRECTORY", "/var/lib/clock-gateway")
    assert default_state_dir() == Path("/var/lib/clock-gateway")


def test_env_file_syntax_is_systemds() -> None:
    text = "# secrets\n; also a comment\n\nA=1\nB = 'two words'\nC=\"x=y\"\nD=\n"
    assert parse_env_file(text, "env") == {"A": "1", "B": "two words", "C": "x=y", "D": ""}


def test_a_bad_line_is_named_by_number_without_its_content() -> None:
    with pytest.raises(ConfigError) as bad:
        parse_env_file("A=1\npostgresql://u:s3cret@h/db\n", "/etc/clock-gateway/env")
    assert str(bad.value) == "/etc/clock-gateway/env: line 2: expected KEY=VALUE"
    assert "s3cret" not in str(bad.value)


def test_explicit_variables_win_and_the_admin_url_is_for_admin_commands(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text(
        "CLOCK_GATEWAY_DATABASE_URL=postgresql://clock_daemon:d@h/clock\n"
        "CLOCK_GATEWAY_ADMIN_DATABASE_URL=postgresql://clock_admin:a@h/clock\n"
    )
    daemon: dict[str, str] = {}
    assert load_env_file(env_file, admin=False, environ=daemon)
    assert daemon[ENV_DATABASE_URL] == "postgresql://clock_daemon:d@h/clock"
    admin: dict[str, str] = {}
    load_env_file(env_file, admin=True, environ=admin)
    assert admin[ENV_DATABASE_URL] == "postgresql://clock_admin:a@h/clock"
    explicit = {ENV_DATABASE_URL: "sqlite:///x.db"}
    load_env_file(env_file, admin=True, environ=explicit)
    assert explicit[ENV_DATABASE_URL] == "sqlite:///x.db"
    assert not load_env_file(tmp_path / "absent", admin=True, environ={})


@needs_root
def test_root_created_files_go_to_the_state_dirs_owner(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "spool").mkdir(parents=True)
    os.chown(state, DAEMON_UID, DAEMON_UID)
    (state / "clock-gateway.db").write_bytes(b"")
    (state / "spool" / "seg-1.log").write_bytes(b"")
    (state / "someone-elses.txt").write_bytes(b"")  # not a state file: left alone
    assert hand_back(state) == 3
    owners = {p.name: p.stat().st_uid for p in state.rglob("*")}
    assert owners == {"spool": 1, "clock-gateway.db": 1, "seg-1.log": 1, "someone-elses.txt": 0}
    mine = tmp_path / "mine"  # a root-owned state dir (a developer's) is left alone
    mine.mkdir()
    (mine / "x").write_bytes(b"")
    assert hand_back(mine) == 0


@needs_root
@pytest.mark.postgres
def test_sudo_db_init_reaches_the_database_the_env_file_names(
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The newcomer's path: /etc/clock-gateway/{config.toml,env}, `sudo clock-gateway db init`."""
    etc, state = tmp_path / "etc", tmp_path / "var-lib"
    etc.mkdir()
    state.mkdir(mode=0o750)
    os.chown(state, DAEMON_UID, DAEMON_UID)
    config = etc / "config.toml"
    config.write_text("[gateway]\n")  # no state_dir, no URL: the service's defaults
    (etc / "env").write_text(f"CLOCK_GATEWAY_DATABASE_URL={pg_url}\n")
    (etc / "env").chmod(0o600)
    clean_env.setattr(gateway.config, "SERVICE_CONFIG", config)
    clean_env.setattr(gateway.config, "SERVICE_STATE_DIR", state)
    clean_env.setattr(gateway.cli.common, "SERVICE_ENV", etc / "env")

    assert main(["db", "init", "--json", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["backend"] == "postgresql"
    assert "test-secret" not in out + err  # the cluster's password
    # Without the env file: SQLite in the service's state dir, owned by the service.
    (etc / "env").unlink()
    clean_env.delenv(ENV_DATABASE_URL, raising=False)
    assert main(["db", "init", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "sqlite"
    db = state / "clock-gateway.db"
    assert db.stat().st_uid == DAEMON_UID
