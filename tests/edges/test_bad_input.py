"""Issue 13 item 8: hostile or careless command-line input gets one clear line, never a
traceback, and non-ASCII digits are not numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.errors import ExitCode
from gateway.reports.timeparse import parse_weekday

BIG = "x" * (128 * 1024 + 10)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "clock.db"}"\n')
    monkeypatch.setenv("CLOCK_GATEWAY_CONFIG", str(config))
    monkeypatch.delenv("CLOCK_GATEWAY_DATABASE_URL", raising=False)
    assert main(["db", "init"]) == 0
    return tmp_path


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The error text, with one error line, last; usage or bad-row lines may precede it."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refused an option: usage, then one error line
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code not in (0, ExitCode.FAILURE), (argv, code, err)
    assert "Traceback" not in err and "internal" not in err, (argv, err)
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, (argv, err)
    assert err.rstrip().endswith(lines[0])
    return err  # an import lists its bad rows, one line each, before the error line


def test_huge_csv_fields(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    people = env / "people.csv"
    people.write_text(f"uid,name\nana,{BIG}\n")
    line = one_line_error(capsys, ["users", "import", str(people)])
    assert "people.csv: line 2: a field is longer than 131072 characters" in line
    timetable = env / "timetable.csv"
    timetable.write_text(f"uid,weekday,start,end,room\nana,1,08:00,09:00,{BIG}\n")
    assert "timetable.csv:2: a field is longer" in one_line_error(
        capsys, ["timetable", "import", str(timetable)]
    )


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "0001-01-02"])
def test_extreme_report_dates(env: Path, capsys: pytest.CaptureFixture[str], day: str) -> None:
    assert "date" in one_line_error(capsys, ["report", "--from", day])
    assert "date" in one_line_error(capsys, ["report", "--from", "2026-01-01", "--to", day])


@pytest.mark.parametrize("at", ["0001-01-01T00:00+00:00", "9999-12-31T23:59+00:00"])
def test_extreme_who_instants(env: Path, capsys: pytest.CaptureFixture[str], at: str) -> None:
    assert "date" in one_line_error(capsys, ["who", "--at", at])


@pytest.mark.parametrize("settle", ["nan", "inf", "-inf", "1e20", "-1"])
def test_export_settle(env: Path, capsys: pytest.CaptureFixture[str], settle: str) -> None:
    assert "--settle" in one_line_error(capsys, ["events", "export", f"--settle={settle}"])


@pytest.mark.parametrize("since", ["1e20", "100000000000000000000", "-1", "１２"])
def test_export_since_id(env: Path, capsys: pytest.CaptureFixture[str], since: str) -> None:
    assert "--since-id" in one_line_error(capsys, ["events", "export", f"--since-id={since}"])


@pytest.mark.parametrize("limit", ["0", "100000000000000000000", "１"])
def test_export_limit(env: Path, capsys: pytest.CaptureFixture[str], limit: str) -> None:
    assert "--limit" in one_line_error(capsys, ["events", "export", f"--limit={limit}"])


@pytest.mark.parametrize("text", ["１２", "99999999999999999999999", "٣", "12 3", "-4"])
def test_cursor_files(env: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    cursor = env / "cursor"
    cursor.write_text(text + "\n", encoding="utf-8")
    line = one_line_error(capsys, ["events", "export", "--cursor-file", str(cursor)])
    assert "cursor" in line
    assert cursor.read_text(encoding="utf-8") == text + "\n"  # left as it was


@pytest.mark.parametrize("text", ["１", "٣", "𝟙"])
def test_weekdays_take_ascii_digits_only(text: str) -> None:
    with pytest.raises(Exception, match="bad weekday"):
        parse_weekday(text)
    assert parse_weekday("1") == 1 and parse_weekday(" 7 ") == 7


def test_timetable_times_take_ascii_digits_only(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "ana", "Ana"]) == 0
    timetable = env / "timetable.csv"
    timetable.write_text("uid,weekday,start,end,room\nana,1,０８:00,09:00,A\n", encoding="utf-8")
    assert "bad time" in one_line_error(capsys, ["timetable", "import", str(timetable)])


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://clock:pw@db:notaport/clock",
        "postgresql://clock:pw@db:99999/clock",
        "postgresql://clock:pw@db:５４３２/clock",
    ],
)
def test_database_url_with_a_bad_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    for command in (["db", "check"], ["config", "check"]):
        line = one_line_error(capsys, [*command, "--config", str(config)])
        assert "port" in line and "pw" not in line
