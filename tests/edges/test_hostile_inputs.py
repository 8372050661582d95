"""Issue 24 item 11: hostile command-line input and database rows get one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.common import for_terminal
from gateway.cli.main import main
from gateway.web.routes_admin import row_id


def test_config_that_never_ends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLOCK_GATEWAY_CONFIG", "/dev/zero")
    code = main(["status"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "/dev/zero: larger than" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["corrections", "void", "1e26", "--reason", "x"],
        ["corrections", "void", "99999999999999999999999", "--reason", "x"],
        ["web", "--port", "99999"],
    ],
)
def test_out_of_range_numbers(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "clock.db"}"\n')
    monkeypatch.setenv("CLOCK_GATEWAY_CONFIG", str(config))
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "must be" in err


@pytest.mark.parametrize("text", ["²", "١٢", "9" * 5000, "99999999999999999999", "", "-1"])
def test_bad_row_ids_are_none(text: str) -> None:
    assert row_id(text) is None
    assert row_id("42") == 42


def test_terminal_escapes() -> None:
    assert for_terminal("hall\x1b]0;owned\x07-b") == "hall\\x1b]0;owned\\x07-b"
    assert "\u202e" not in for_terminal("a\u202eb")
    assert for_terminal("Núria") == "Núria"
