"""`clock-gateway register verify|seal|head` as a person runs them: one line and the
right exit code for every bad input, JSON for scripts, and the demo verifying at once."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.errors import ExitCode
from tests.register.support import attack, fill
from tests.store.support import open_stores

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    def __init__(self, tmp_path: Path, url: str) -> None:
        self.state = tmp_path / "state"
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[gateway]\nstate_dir = "{self.state}"\n[database]\nurl = "{url}"\n'
        )

    def __call__(self, *args: str, code: int = 0) -> tuple[str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "gateway", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert done.returncode == code, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        if code not in (ExitCode.OK, ExitCode.CONFLICT):
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        return done.stdout, done.stderr


async def test_seal_head_and_verify(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    async with open_stores(url) as stores:
        await fill(stores)
    cli = Cli(tmp_path, url)
    out, _ = cli("register", "head")
    assert out.strip() == "nothing sealed yet"
    # Rows stored a moment ago and not sealed: waiting, not a finding.
    out, _ = cli("register", "verify")
    assert "13 row(s) stored in the last 60 s are not sealed yet" in out and "OK" in out
    out, _ = cli("register", "seal")
    assert out.strip() == "sealed 13 row(s)"
    out, _ = cli("register", "head", "--record")
    head = out.splitlines()[0]
    assert re.fullmatch(r"13:[0-9a-f]{64}", head)
    heads = cli.state / "register-heads.jsonl"
    assert json.loads(heads.read_text())["seq"] == 13

    out, _ = cli("register", "verify", "--head", head, "--head", str(heads))
    assert "checked 13 seal(s) and 4 event(s), 2 correction(s), 2 step(s), 5 audit(s)" in out
    assert "checked against 2 head(s)" in out and f"chain head: {head}" in out
    doc = json.loads(cli("register", "verify", "--json", "--from", "2000-01-01")[0])
    assert doc["ok"] and doc["head"]["head"] == head and doc["findings"] == []

    attack(url, "UPDATE audit_log SET actor = 'someone else' WHERE id = 1")
    out, _ = cli("register", "verify", code=ExitCode.CONFLICT)
    assert "ALTERED: audit 1 differs from its seal in actor" in out
    assert "    actor: sealed 'admin', now 'someone else'" in out
    assert "NOT OK: 1 finding(s)" in out
    # A range that leaves the altered row out does not look at it.
    cli("register", "verify", "--from", "2001-01-01", "--to", "2001-01-31")


def test_bad_input_is_one_line_and_its_exit_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    cli = Cli(tmp_path, url)
    _, err = cli("register", "verify", code=ExitCode.DB_UNAVAILABLE)
    assert "db init" in err
    cli("db", "init")
    for args, code, said in (
        (("--from", "2026-13-01"), ExitCode.BAD_INPUT, "bad date"),
        (("--from", "2026-02-01", "--to", "2026-01-01"), ExitCode.USAGE, "before --from"),
        (("--head", "12:xyz"), ExitCode.BAD_INPUT, "SEQ:SEAL"),
        (("--head", str(tmp_path / "missing.jsonl")), ExitCode.NOT_FOUND, "no heads file"),
    ):
        _, err = cli("register", "verify", *args, code=code)
        assert said in err, err
    bad = tmp_path / "heads.jsonl"
    bad.write_text('{"seq": 1}\n')
    _, err = cli("register", "verify", "--head", str(bad), code=ExitCode.BAD_INPUT)
    assert "line 1" in err
    # A head from a chain this database does not have (cut back, or another database).
    out, _ = cli("register", "verify", "--head", f"5:{'a' * 64}", code=ExitCode.CONFLICT)
    assert "the end of the register was deleted" in out


@pytest.mark.e2e
def test_the_demo_then_verify_passes_at_once(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--pause", "0", "--keep"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    work = Path(re.findall(r"kept: (\S+) ", done.stdout)[-1])
    try:
        config = str(work / "config.toml")
        verified = subprocess.run(
            [sys.executable, "-m", "gateway", "register", "verify", "--json", "--config", config],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
        doc = json.loads(verified.stdout)
        assert doc["ok"] and doc["pending"] == 0 and doc["rows"]["event"] > 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
