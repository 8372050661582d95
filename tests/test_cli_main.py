"""The command table, lazy command loading, and a light `status`."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import gateway.cli
from gateway.cli.commands import COMMANDS
from gateway.cli.main import build_parser, command_in, main


class _Recorder:
    """Stands in for argparse's subparsers action: records the names and help lines."""

    def __init__(self) -> None:
        self.seen: dict[str, str | None] = {}

    def add_parser(self, name: str, help: str | None = None, **kwargs: Any) -> Any:
        self.seen[name] = help
        return argparse.ArgumentParser(prog=name, **kwargs)


def _command_modules() -> dict[str, Any]:
    found = {}
    for info in pkgutil.iter_modules(gateway.cli.__path__):
        module = importlib.import_module(f"gateway.cli.{info.name}")
        if callable(getattr(module, "register", None)):
            found[info.name] = module
    return found


def test_the_command_table_matches_the_modules() -> None:
    modules = _command_modules()
    registered: dict[str, tuple[str, str | None]] = {}
    for module_name, module in modules.items():
        recorder = _Recorder()
        module.register(recorder)
        assert recorder.seen, f"gateway/cli/{module_name}.py registers no command"
        for name, help_line in recorder.seen.items():
            registered[name] = (module_name, help_line)
    table = {name: (entry.module, entry.help) for name, entry in COMMANDS.items()}
    # A module missing from gateway/cli/commands.py is a command nobody can run.
    assert table == registered


def test_help_lists_every_command_without_loading_any(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps long help lines
    for name, entry in COMMANDS.items():
        assert name in out and entry.help in out


def test_a_mistyped_command_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["statu"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'statu'" in err and "'status'" in err


def test_only_the_chosen_command_gets_its_options() -> None:
    parser = build_parser("status")
    args = parser.parse_args(["status", "--json"])
    assert args.command == "status" and args.json is True


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["status", "--json"], "status"),
        (["--version"], None),
        (["-h", "db", "init"], "db"),
        ([], None),
        (["--", "status"], None),
    ],
)
def test_the_command_word_is_the_first_non_option(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


_PROBE = """
import json, sys
from gateway.cli.main import main
code = main(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'psycopg', 'aiosqlite',
    'serial', 'structlog', 'asyncio'})
print(json.dumps({'code': code, 'heavy': heavy}))
"""


def _probe(tmp_path: Path, *argv: str) -> dict[str, Any]:
    config = tmp_path / "config.toml"
    config.write_text(f'[gateway]\nstate_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_status_does_not_load_the_database_layers(tmp_path: Path) -> None:
    result = _probe(tmp_path, "status", "--json")
    assert result["code"] == 4  # not running: no status file in the fresh state dir
    # No SQLAlchemy, drivers or serial port code; structlog (and the asyncio it
    # imports) only once something logs.
    assert result["heavy"] == []


def test_config_check_stays_light_too(tmp_path: Path) -> None:
    result = _probe(tmp_path, "config", "check")
    assert result["code"] == 0
    assert "sqlalchemy" not in result["heavy"]


_DEFERRED = """
import io, json, sys
from gateway.logs import configure_logging
out = io.StringIO()
configure_logging("error", json=True, stream=out)
assert "structlog" not in sys.modules
from gateway.logs import get_logger
log = get_logger("late")
log.warning("dropped")
log.error("kept", n=1)
print(out.getvalue(), end="")
"""


def test_a_configuration_made_before_structlog_loads_applies_at_the_first_logger() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _DEFERRED], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(x) for x in done.stdout.splitlines()]
    assert line["event"] == "kept" and line["logger"] == "late" and line["level"] == "error"
