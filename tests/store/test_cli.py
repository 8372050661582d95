"""The db, users and cards commands, run as a person runs them: a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.kit.pgcluster import free_port
from gateway.cli.main import main
from gateway.domain import Person, UnknownSwipe
from gateway.errors import ExitCode
from gateway.store.audit import Actor
from gateway.store.tables import SCHEMA_VERSION
from tests.store.support import count, open_stores

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    """Runs `clock-gateway ... --config FILE` and checks the exit code.

    The whole flow runs as a real subprocess; the many small refusal checks call
    the same entry point in-process (inprocess=True), because each subprocess pays
    a second of interpreter and SQLAlchemy start-up on a busy machine.
    """

    def __init__(self, tmp_path: Path, url: str, *, inprocess: bool = False) -> None:
        self.url = url
        self.inprocess = inprocess
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[gateway]\nstate_dir = "{tmp_path / "state"}"\n\n[database]\nurl = "{url}"\n'
        )
        # Only the file decides: a developer's environment must not leak in.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCK_GATEWAY_")}

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        if not self.inprocess:
            return subprocess.run(
                [sys.executable, "-m", "gateway", *argv],
                capture_output=True,
                text=True,
                timeout=60,
                env=self.env,
                cwd=ROOT,
            )
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

    def __call__(
        self, *args: str, code: ExitCode = ExitCode.OK
    ) -> subprocess.CompletedProcess[str]:
        result = self._run([*args, "--config", str(self.config)])
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        if code != ExitCode.OK:
            errors = [line for line in result.stderr.splitlines() if "error:" in line]
            assert len(errors) == 1, result.stderr  # one line says what is wrong
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    return Cli(tmp_path, db_url)


@pytest.fixture
def sqlite_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in [n for n in os.environ if n.startswith("CLOCK_GATEWAY_")]:
        monkeypatch.delenv(name)
    return Cli(tmp_path, f"sqlite:///{tmp_path / 'state' / 'gateway.db'}", inprocess=True)


def _tap(url: str, card_key: str) -> None:
    """Stands in for a tap of an unknown card: what the daemon records."""

    async def record() -> None:
        async with open_stores(url, init=False) as stores:
            await stores.swipes.record_unknown(
                UnknownSwipe(card_key, "entrance", "0badc0de", datetime.now(UTC))
            )

    asyncio.run(record())


def _holder(url: str, card_key: str) -> Person | None:
    async def find() -> Person | None:
        async with open_stores(url, init=False) as stores:
            return await stores.swipes.find_person_by_card(card_key)

    return asyncio.run(find())


def test_enrolment_by_tapping_a_card(cli: Cli) -> None:
    missing = cli("db", "check", code=ExitCode.DB_UNAVAILABLE)
    assert "db init" in missing.stderr and "test-secret" not in missing.stderr
    assert cli.json("db", "init")["schema_version"] == SCHEMA_VERSION
    assert cli("users", "add", "ana", "Ana García").stdout.strip() == "added ana (Ana García)"

    _tap(cli.url, "04a1b2c3d4e5f6")
    listed = cli("cards", "unknown").stdout
    assert "04A1B2C3D4E5F6" in listed and "entrance" in listed

    out = cli("cards", "assign", "04:a1:b2:c3:d4:e5:f6", "ana").stdout
    assert out.strip() == "card 04A1B2C3D4E5F6 assigned to ana (Ana García)"
    assert _holder(cli.url, "04A1B2C3D4E5F6") == Person("ana", "Ana García")
    assert cli.json("cards", "unknown") == []


def test_refusals_get_their_own_exit_codes(sqlite_cli: Cli) -> None:
    cli = sqlite_cli
    cli("db", "init")
    assert f"schema version {SCHEMA_VERSION}" in cli("db", "check").stdout
    assert "No unknown cards yet" in cli("cards", "unknown").stdout
    cli("users", "add", "ana", "Ana")
    cli("users", "add", "ana", "Someone Else", code=ExitCode.CONFLICT)
    cli("users", "add", "two words", "X", code=ExitCode.BAD_INPUT)
    cli("cards", "assign", "04A1B2", "ana", code=ExitCode.BAD_INPUT)
    cli("cards", "assign", "04A1B2C3", "nobody", code=ExitCode.NOT_FOUND)
    cli("cards", "revoke", "04A1B2C3", code=ExitCode.NOT_FOUND)
    _tap(cli.url, "04A1B2C3")
    [row] = cli.json("cards", "unknown")
    assert (row["card_key"], row["count"], row["last_reader"]) == ("04A1B2C3", 1, "entrance")
    assert [p["uid"] for p in cli.json("users", "list", "--without-card")] == ["ana"]
    cli("db", "init")  # again: harmless

    assert "assigned to ana (Ana)" in cli("cards", "assign", "04A1B2C3", "ana").stdout
    assert cli.json("cards", "unknown") == []
    assert cli.json("users", "list") == [
        {"uid": "ana", "name": "Ana", "active": True, "cards": ["04A1B2C3"], "erased": False}
    ]
    assert cli.json("users", "list", "--without-card") == []
    cli("users", "add", "bob", "Bob")
    held = cli("cards", "assign", "04A1B2C3", "bob", code=ExitCode.CONFLICT)
    assert "held by ana (Ana)" in held.stderr
    assert "revoked from ana" in cli("cards", "revoke", "04a1b2c3").stdout
    assert _holder(cli.url, "04A1B2C3") is None
    assert count(cli.url, "people") == 2 and count(cli.url, "cards") == 1


async def _enrol_zoe(url: str) -> None:
    async with open_stores(url) as stores:
        await stores.lifecycle.add_person("zoe", "Zoe", Actor.cli())
        await stores.lifecycle.assign_card("CAFEBABE", "zoe", Actor.cli())


def test_import_checks_every_row_before_writing(sqlite_cli: Cli, tmp_path: Path) -> None:
    cli = sqlite_cli
    asyncio.run(_enrol_zoe(cli.url))

    bad = tmp_path / "bad.csv"
    bad.write_text("ana,Ana,04A1B2C3\nbob,,\ncarol,Carol,xyz\nana,Ana again\n")
    result = cli("users", "import", str(bad), code=ExitCode.BAD_INPUT)
    for problem in (
        "line 2: name must not be empty",
        "line 3: invalid card key",
        "line 4: uid 'ana' is also on line 1",
        "3 bad row(s); nothing was imported",
    ):
        assert problem in result.stderr

    held = tmp_path / "held.csv"
    held.write_text("uid,name,card_key\nana,Ana,04A1B2C3\nbob,Bob,cafebabe\n")
    result = cli("users", "import", str(held), code=ExitCode.CONFLICT)
    assert "line 3: card CAFEBABE is held by zoe" in result.stderr
    assert count(cli.url, "people") == 1 and count(cli.url, "cards") == 1

    good = tmp_path / "good.csv"
    good.write_bytes("\ufeffName;UID;Card\nAna García;ana;04a1b2c3\nBob;bob;\n".encode())
    assert "dry run" in cli("users", "import", str(good), "--dry-run").stdout
    assert count(cli.url, "people") == 1
    done = cli("users", "import", str(good)).stdout.splitlines()
    assert done == [
        "line 2: ana: added, card assigned",
        "line 3: bob: added",
        "2 row(s): 2 added, 1 card(s) assigned",
    ]
    again = cli.json("users", "import", str(good))
    assert [(r["person"], r["card"]) for r in again["rows"]] == [
        ("unchanged", "unchanged"),
        ("unchanged", None),
    ]
    cli("users", "import", str(tmp_path / "absent.csv"), code=ExitCode.NOT_FOUND)
    # And once as a real process, whose stderr lists the bad rows too.
    result = Cli(tmp_path, cli.url)("users", "import", str(bad), code=ExitCode.BAD_INPUT)
    assert "line 3: invalid card key" in result.stderr


def test_an_unreachable_database_is_one_line_and_exit_6(tmp_path: Path) -> None:
    cli = Cli(tmp_path, f"postgresql://clock:pa55word@127.0.0.1:{free_port()}/clock")
    for args in (("db", "check"), ("users", "list")):
        result = cli(*args, code=ExitCode.DB_UNAVAILABLE)
        assert "pa55word" not in result.stderr + result.stdout
        assert "clock:***@127.0.0.1" in result.stderr
