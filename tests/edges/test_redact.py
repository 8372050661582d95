"""Issue 13 item 4: a database password is never printed or logged, whatever form it takes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.daemon.daemon import config_summary
from gateway.logs import configure_logging, get_logger
from gateway.redact import redact_text, redact_url
from gateway.store.failures import reason, unavailable

SECRET = "Zq9s3cret"

# Every form a password takes in a database URL or a libpq connection string.
FORMS = [
    f"postgresql://clock:{SECRET}@db/clock",
    f"postgresql://clock:ab/{SECRET}/cd@db:5432/clock",  # a raw '/': SQLAlchemy takes it
    f"postgresql://clock:ab?{SECRET}@db/clock",
    f"postgresql://clock:ab:{SECRET}@db/clock",
    f"postgresql://clock@db/clock?password={SECRET}",
    f"postgresql://clock@db/clock?sslmode=require&password={SECRET}&application_name=x",
    f"postgresql://clock@db/clock?sslpassword={SECRET}",
    f"postgresql://clock@db/clock?passfile=/home/{SECRET}/.pgpass",
    f"postgresql://clock@db/clock?PASSWORD={SECRET}",
    f"postgresql://clock@db/clock?pass%77ord={SECRET}",
    f"postgresql://db/clock?password=a@{SECRET}",
    f"postgresql:///clock?host=/run/postgresql&password={SECRET}",
    f"host=db dbname=clock password={SECRET} user=clock",
    f"host=db password = '{SECRET} with space' user=clock",
    f"host=db sslpassword={SECRET}",
]


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_redacted(form: str) -> None:
    assert SECRET not in redact_url(form)
    assert SECRET not in redact_text(f"could not connect to {form!r}: refused")
    assert SECRET not in reason(RuntimeError(f"connection to {form} failed"))


def test_what_is_not_secret_stays_readable() -> None:
    assert redact_url("postgresql://clock:pw@db:5432/clock?sslmode=require") == (
        "postgresql://clock:***@db:5432/clock?sslmode=require"
    )
    assert (
        redact_url(f"postgresql://clock:a/{SECRET}@db/clock") == "postgresql://clock:***@db/clock"
    )
    assert redact_url("sqlite:////var/lib/clock-gateway/clock-gateway.db") == (
        "sqlite:////var/lib/clock-gateway/clock-gateway.db"
    )
    assert redact_url("postgresql://db/clock?password=x&user=clock") == (
        "postgresql://db/clock?password=***&user=clock"
    )
    assert redact_text("password authentication failed for user clock") == (
        "password authentication failed for user clock"
    )


def test_the_store_names_its_database_without_secrets() -> None:
    error = unavailable(RuntimeError("refused"), redact_url(FORMS[5]))
    assert SECRET not in str(error)


def _config(url: str) -> str:
    return f'[database]\nurl = "{url}"\n'


@pytest.mark.parametrize("form", [f for f in FORMS if "://" in f])
def test_daemon_start_summary_and_log_lines(form: str) -> None:
    config = parse_config({"database": {"url": form}}, "<test>")
    summary = config_summary(config)
    assert SECRET not in json.dumps(summary)
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    # Raw values in any field, nested or not, and inside an exception's text.
    get_logger("test").info("daemon_starting", url=form, nested={"urls": [form]})
    try:
        raise RuntimeError(f"cannot connect to {form}")
    except RuntimeError:
        get_logger("test").error("failed", exc_info=True)
    assert SECRET not in out.getvalue()
    assert "daemon_starting" in out.getvalue()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize(
    "form",
    [
        f"postgresql://clock:ab/{SECRET}@127.0.0.1:1/clock",
        f"postgresql://clock@127.0.0.1:1/clock?password={SECRET}",
        f"postgresql://clock@127.0.0.1:1/clock?connect_timeout=2&sslpassword={SECRET}",
    ],
)
def test_cli_config_show_and_db_check_never_print_it(tmp_path: Path, form: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(_config(form))
    for args in (("config", "show"), ("config", "show", "--json"), ("db", "check")):
        result = _cli(*args, "--config", str(path), "--log-level", "debug")
        assert SECRET not in result.stdout + result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert result.returncode == 6  # nothing listens on port 1
