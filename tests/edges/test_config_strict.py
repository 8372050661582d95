"""Issue 13 item 10: `config check` is as strict as `run`, refuses values that break a
promise, and lists every mistake of a file in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.clocking.messages import Messages
from gateway.config import load_config
from gateway.errors import ConfigError, ExitCode

BAD = {
    "template {nope}": '[messages.templates]\nin_ok = "Hola {nope}"\n',
    "template {0}": '[messages.templates]\nout_ok = "Adios {0}"\n',
    "template {name.x}": '[messages.templates]\nout_ok = "Adios {name.upper}"\n',
    "wait_s inf": "[database]\nwait_s = inf\n",
    "wait_s nan": "[database]\nwait_s = nan\n",
    "wait_s 3600": "[database]\nwait_s = 3600\n",
    "duplicate window inf": "[gateway]\nduplicate_window_s = inf\n",
    "duplicate window nan": "[gateway]\nduplicate_window_s = nan\n",
    "directory refresh 1e-9": "[database]\ndirectory_refresh_s = 1e-9\n",
    "directory refresh inf": "[database]\ndirectory_refresh_s = inf\n",
    "state_dir empty": '[gateway]\nstate_dir = ""\n',
    "warn_ratio nan": "[spool]\nwarn_ratio = nan\n",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", sorted(BAD))
def test_config_check_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = write(tmp_path, BAD[name])
    assert main(["config", "check", "--config", str(path)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1


def test_what_check_accepts_run_accepts(tmp_path: Path) -> None:
    # The templates `run` builds its messages from: check passing means run passes.
    text = '[messages.templates]\nin_ok = "Hola {name} {card}"\nout_ok = "{{literal}}"\n'
    config = load_config(str(write(tmp_path, text)))
    Messages(config.locale, config.templates)


def test_every_mistake_is_listed_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "[gateway]\nduplicate_window_s = inf\nstate_dir = ''\nbogus = 1\n"
        "[database]\nwait_s = 3600\ndirectory_refresh_s = 1e-9\n"
        '[messages.templates]\nin_ok = "{nope}"\n'
        "[[readers]]\nname = 'a'\nrole = 'sideways'\n"
        "[[readers]]\nname = 'a'\nport = '/dev/ttyACM0'\nrole = 'in'\n",
    )
    assert main(["config", "check", "--config", str(path)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    for key in (
        "gateway.duplicate_window_s",
        "gateway.state_dir",
        "gateway.bogus",
        "database.wait_s",
        "database.directory_refresh_s",
        "messages.templates.in_ok",
        "readers[0].port",
        "readers[0].role",
        "readers[1].name",
    ):
        assert key in err, (key, err)
    assert "9 problems" in err
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert len(info.value.problems) == 9
    assert "\n" not in str(info.value)  # one line for the daemon's log and the CLI
