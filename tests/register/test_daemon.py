"""Issue 21 items 1-3 with the real daemon: rows sealed within seconds, the backlog in
`status`, the head copied out at start and stop, and `verify` passing right after a
clean stop. The daemon is a subprocess with readers on PTYs, on SQLite and on
PostgreSQL (several sealers at once: tests/register/test_sealing.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.kit.harness import DaemonProcess, PtyReader, run_cli, seed, write_config
from bench.kit.pgcluster import PgCluster
from gateway.protocol import Role, Status
from gateway.store.heads import HEADS_FILE
from tests.support.wait import wait_until

PEOPLE = [("ana", "Ana", "04A1B2C3"), ("bea", "Bea", "04112233445566")]
CARD = {uid: bytes.fromhex(card) for uid, _, card in PEOPLE}
# Seeding goes through the audited door: a person.add and a card.assign audit row each,
# sealed before the taps.
SEEDED = 2 * len(PEOPLE)


def _register(config: Path) -> dict[str, Any]:
    """The sealer's figures in the daemon's status ({} before the first round)."""
    done = run_cli("status", "--json", "--config", str(config))
    return dict(json.loads(done.stdout)["status"].get("register") or {})


def _verify(config: Path, *args: str) -> tuple[int, str]:
    done = run_cli("register", "verify", "--config", str(config), *args)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


def _run(tmp_path: Path, url: str) -> None:
    seed(url, PEOPLE)
    entrance = PtyReader(tmp_path, "entrance", Role.IN).plug()
    exit_ = PtyReader(tmp_path, "exit", Role.OUT).plug()
    state = tmp_path / "state"
    config = write_config(
        tmp_path / "config.toml",
        database_url=url,
        state_dir=state,
        readers=[("entrance", entrance.port, "in"), ("exit", exit_.port, "out")],
    )
    try:
        with DaemonProcess(config) as daemon:
            daemon.wait_ready()
            entrance.wait_online()
            exit_.wait_online()
            for uid in ("ana", "bea"):
                assert entrance.swipe(CARD[uid]).status == Status.OK
            # Sealed within seconds while it runs (the promise is a minute).
            wait_until(
                lambda: _register(config).get("head_seq") == SEEDED + 2,
                30,
                "the two taps sealed",
                detail=lambda: _register(config),
            )
            register = _register(config)
            assert register["unsealed"] == 0 and register["error"] is None
            shown = run_cli("status", "--config", str(config)).stdout
            assert "register:   0 row(s) waiting to be sealed" in shown
            code, out = _verify(config)
            assert code == 0 and "OK: every seal holds" in out
            # Stored and stopped at once: the clean stop seals it.
            assert exit_.swipe(CARD["ana"]).status == Status.OK
            assert daemon.stop() == 0
            stop = daemon.find("register_head", why="stop")
            assert stop and stop[-1]["seq"] == SEEDED + 3
        code, out = _verify(config, "--json")
        assert code == 0, out
        assert json.loads(out)["pending"] == 0  # sealed by the stop, not merely young
        heads = [json.loads(line) for line in (state / HEADS_FILE).read_text().splitlines()]
        assert [h["why"] for h in heads][-1] == "stop" and heads[-1]["seq"] == SEEDED + 3
        code, out = _verify(config, "--head", str(state / HEADS_FILE))
        assert code == 0 and "checked against" in out, out
        # And a tampering after the stop is caught at once.
        if url.startswith("sqlite"):
            import sqlite3

            with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
                db.execute("DROP TRIGGER clock_events_no_update")
                db.execute("UPDATE clock_events SET direction = 'out' WHERE id = 1")
            code, out = _verify(config, "--json")
            assert code == 5 and json.loads(out)["findings"][0]["id"] == 1
    finally:
        entrance.close()
        exit_.close()


@pytest.mark.e2e
def test_the_daemon_seals_and_a_clean_stop_leaves_it_all_sealed_sqlite(tmp_path: Path) -> None:
    _run(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")


@pytest.mark.e2e
@pytest.mark.postgres
def test_the_daemon_seals_and_a_clean_stop_leaves_it_all_sealed_postgres(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    _run(tmp_path, pg_cluster.create_database("register_daemon"))
