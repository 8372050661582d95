"""The company's side of agreements and worker accounts from the CLI (issue 22 items 5
and 6): corrections accept/reject/withdraw and list --pending; accounts add-worker with
its one-time code printed once and stored hashed."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.kit.harness import write_config
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from gateway.web.security import verify_password
from tests.store.support import sql
from tests.web.test_http import _cli


def _setup(tmp_path: Path) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    config = write_config(tmp_path / "c.toml", database_url=url, state_dir=tmp_path)
    assert _cli(config, "db", "init").returncode == 0
    assert _cli(config, "users", "add", "ana", "Ana García").returncode == 0
    return config, url


def _request(url: str) -> int:
    async def work() -> int:
        stores = Stores.open(url)
        try:
            at = datetime.now(UTC) - timedelta(hours=3)
            return await stores.corrections.add_missing(
                "ana", "in", at, "card at home", Actor("ana"), side="worker"
            )
        finally:
            await stores.close()

    return asyncio.run(work())


def test_the_company_answers_from_the_cli(tmp_path: Path) -> None:
    config, url = _setup(tmp_path)
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    filed = _cli(config, "corrections", "add", "ana", "out", "--at", at, "--reason", "forgot")
    assert filed.returncode == 0 and "counts once the worker accepts it" in filed.stdout
    ours = int(re.search(r"correction (\d+):", filed.stdout).group(1))  # type: ignore[union-attr]
    theirs = _request(url)

    pending = json.loads(_cli(config, "corrections", "list", "--pending", "--json").stdout)
    assert [(c["id"], c["state"], c["waits_for"]) for c in pending] == [
        (ours, "pending", "worker"),
        (theirs, "pending", "company"),
    ]
    own = _cli(config, "corrections", "accept", str(ours))
    assert own.returncode == 5 and "cannot also agree" in own.stderr  # ConflictError
    with pytest.raises(SystemExit) as usage:  # argparse: --reason is required
        _cli(config, "corrections", "reject", str(theirs))
    assert usage.value.code == 2
    rejected = _cli(config, "corrections", "reject", str(theirs), "--reason", "no card log")
    assert (
        rejected.returncode == 0
        and rejected.stdout.strip() == f"correction {theirs} (ana): rejected"
    )
    withdrawn = _cli(config, "corrections", "withdraw", str(ours), "--json")
    assert json.loads(withdrawn.stdout)["state"] == "withdrawn"
    assert _cli(config, "corrections", "accept", "999").returncode == 4
    assert "No pending corrections." in _cli(config, "corrections", "list", "--pending").stdout
    listed = _cli(config, "corrections", "list").stdout
    assert "rejected" in listed and "withdrawn" in listed
    assert sql(url, "SELECT step, side, note FROM correction_steps ORDER BY id") == [
        ("proposed", "company", "forgot"),
        ("proposed", "worker", "card at home"),
        ("rejected", "company", "no card log"),
        ("withdrawn", "company", ""),
    ]


def test_a_worker_account_gets_a_one_time_code(tmp_path: Path) -> None:
    config, url = _setup(tmp_path)
    made = _cli(config, "accounts", "add-worker", "ana", "--username", "ana@example.org", "--json")
    assert made.returncode == 0, made.stderr
    shown = json.loads(made.stdout)
    assert shown["username"] == "ana@example.org"
    [(role, person, must, stored)] = sql(
        url,
        "SELECT role, person_uid, must_change_password, password_hash FROM accounts "
        "WHERE username = 'ana@example.org'",
    )
    assert (role, person, bool(must)) == ("worker", "ana", True)
    assert verify_password(stored, shown["code"]) and shown["code"] not in stored
    again = _cli(config, "accounts", "add-worker", "ana")
    assert again.returncode == 5 and "already has an account" in again.stderr
    assert _cli(config, "accounts", "add-worker", "nobody").returncode == 4
    plain = _cli(
        config, "accounts", "add", "x", "--role", "worker", "--password-stdin", stdin="y" * 12
    )
    assert plain.returncode == 7 and "add-worker" in plain.stderr
    fresh = _cli(config, "accounts", "new-code", "ana@example.org")
    assert fresh.returncode == 0 and "one-time code" in fresh.stdout
    code = re.search(r"one-time code (\S+)", fresh.stdout).group(1)  # type: ignore[union-attr]
    [(stored_again,)] = sql(url, "SELECT password_hash FROM accounts WHERE role = 'worker'")
    assert verify_password(stored_again, code) and not verify_password(stored_again, shown["code"])
    assert "ana@example.org  worker of ana" in _cli(config, "accounts", "list").stdout
