"""Issue 21 items 4 and 5: the retention purge, and erasure within the retention period.

An old register is built as it would have been years ago (rows dated then, sealed
then: the sealer's clock is set back), recent rows on top; the purge removes the old
part and leaves a checkpoint from which the rest still verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.store.audit import Actor
from gateway.store.chain import Head
from gateway.store.seals import SealStore
from gateway.store.stores import Stores
from tests.register.support import ADMIN, attack, check, existing_person, problems
from tests.store.support import count, event, open_stores, sql

NOW = datetime.now(UTC)
YEARS_AGO = NOW - timedelta(days=6 * 365)
CUTOFF = NOW - timedelta(days=4 * 365 + 1)


async def _old_register(stores: Stores, url: str) -> int:
    """Two people's records of six years ago, sealed then; the number of old seals."""
    await existing_person(stores, "ana", "Ana")
    await existing_person(stores, "old", "Olga")  # left long ago
    taps = [event("ana", at=YEARS_AGO + timedelta(hours=n)) for n in range(3)]
    taps.append(event("old", at=YEARS_AGO))
    await stores.swipes.record_events(taps)
    stamp = YEARS_AGO.strftime("%Y-%m-%d %H:%M:%S") + ("" if url.startswith("sqlite") else "Z")
    sql(
        url,
        "INSERT INTO corrections (person_uid, kind, event_id, reason, created_by, created_at) "
        f"VALUES ('ana', 'void', 2, 'tapped twice', 'admin', '{stamp}')",
    )
    sql(url, f"INSERT INTO audit_log (at, actor, action) VALUES ('{stamp}', 'admin', 'x.old')")
    old = await SealStore(stores.db, clock=lambda: YEARS_AGO + timedelta(days=1)).seal_pending()
    assert old.sealed == 6
    return old.sealed


async def _recent(stores: Stores) -> None:
    await stores.swipes.record_events([event("ana") for _ in range(2)])
    await stores.corrections.add_missing("ana", "out", NOW, "forgot", ADMIN)
    await stores.seals.seal_pending()


async def test_the_purge_removes_the_old_part_and_the_rest_still_verifies(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        old = await _old_register(stores, db_url)
        await _recent(stores)
        before = await stores.seals.head()
        assert before is not None
        planned = await stores.retention.plan(CUTOFF)
        assert (planned.through_seq, planned.events, planned.seals) == (old, 4, old)
        assert count(db_url, "clock_events") == 6  # a dry run changes nothing

        result = await stores.retention.purge(CUTOFF, Actor.cli())
        assert (result.through_seq, result.events, result.corrections, result.audit) == (
            old,
            4,
            1,
            1,
        )
        assert (result.seals, result.missing) == (old, 0)
        assert result.people == 0  # nobody was erased
        report = await check(stores, heads=[Head(before.seq, before.seal)])
        assert report.ok, report.findings
        assert report.first_seq == old + 1
        assert report.checkpoint is not None and report.checkpoint.through_seq == old
        counted = {k: n for k, n in report.rows.items() if n}
        assert counted == {"event": 2, "correction": 1, "audit": 2}  # + the purge's own

        # Audited and sealed: the purge's audit row, sealed after its checkpoint.
        [(details,)] = sql(db_url, "SELECT details FROM audit_log WHERE action = 'events.purge'")
        assert '"events": 4' in details and f'"through_seq": {old}' in details
        kinds = sql(db_url, "SELECT kind FROM seals ORDER BY seq DESC LIMIT 2")
        assert kinds == [("audit",), ("checkpoint",)]

        # Again: nothing left to remove; still audited, still verifies.
        again = await stores.retention.purge(CUTOFF, Actor.cli())
        assert (again.through_seq, again.seals) == (0, 0)
        assert (await check(stores)).ok
    assert count(db_url, "clock_events") == 2


async def test_a_kept_correction_keeps_its_event_and_what_was_sealed_after(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await existing_person(stores, "ana", "Ana")
        await stores.swipes.record_events(
            [event("ana", at=YEARS_AGO + timedelta(hours=n)) for n in range(3)]
        )
        await SealStore(stores.db, clock=lambda: YEARS_AGO).seal_pending()
        # A correction made today about an old tap: a change is kept as long as its
        # record, and it names that tap.
        await stores.corrections.void(2, "found in an old review", ADMIN)
        await stores.seals.seal_pending()
        result = await stores.retention.purge(CUTOFF, Actor.cli())
        assert (result.through_seq, result.events) == (1, 1)
        assert (await check(stores)).ok
    assert sql(db_url, "SELECT id FROM clock_events ORDER BY id") == [(2,), (3,)]


async def test_a_row_gone_before_the_purge_is_recorded_not_hidden(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _old_register(stores, db_url)
        await _recent(stores)
    attack(db_url, "DELETE FROM clock_events WHERE id = 4")  # someone got there first
    async with open_stores(db_url, init=False) as stores:
        result = await stores.retention.purge(CUTOFF, Actor.cli())
        assert result.missing == 1 and result.events == 3
        report = await check(stores)
    assert problems(report) == [("purge", "checkpoint", None)]
    assert "found 1 of them already gone or altered" in report.findings[0].detail


async def test_erasure_keeps_the_register_until_the_purge_takes_it(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _old_register(stores, db_url)
        await stores.lifecycle.assign_card("04A1B2C3", "old", ADMIN)
        await _recent(stores)
        erased = await stores.lifecycle.erase("old", ADMIN)
        assert (erased.events_kept, erased.cards_revoked) == (1, 1)
        await stores.seals.seal_pending()
        # Within the retention period: the register is exactly as it was.
        report = await check(stores)
        assert report.ok, report.findings
        assert sql(db_url, "SELECT name, active FROM people WHERE uid = 'old'") == [("Olga", False)]
        [(details,)] = sql(db_url, "SELECT details FROM audit_log WHERE action = 'person.erase'")
        assert "17(3)(b)" in details
        # Once the purge takes her last records, it takes her row and card history too.
        result = await stores.retention.purge(CUTOFF, Actor.cli())
        assert result.people == 1
        assert (await check(stores)).ok
    assert sql(db_url, "SELECT uid FROM people ORDER BY uid") == [("ana",)]
    assert sql(db_url, "SELECT count(*) FROM cards WHERE person_uid = 'old'") == [(0,)]


def test_the_purge_cli_keeps_the_legal_minimum(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "c.toml"
    config.write_text(
        f'[gateway]\nstate_dir = "{tmp_path}"\n[database]\nurl = "sqlite:///{tmp_path}/g.db"\n'
        '[register]\njurisdiction = "PT"\n'
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )

    assert run("db", "init").returncode == 0
    refused = run("events", "purge", "--older-than", "4")
    assert refused.returncode == 7 and "at least 5 years" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    dry = run("events", "purge", "--dry-run")
    assert dry.returncode == 0 and "would delete 0 event(s)" in dry.stdout
    done = run("events", "purge")
    assert done.returncode == 0 and "deleted 0 event(s)" in done.stdout
    verified = run("register", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_retention_by_jurisdiction() -> None:
    assert parse_config({}, "f").register.retention_years == 4
    portugal = parse_config({"register": {"jurisdiction": "PT"}}, "f").register
    assert (portugal.jurisdiction, portugal.retention_years) == ("PT", 5)
    assert parse_config({"register": {"retention_years": 6}}, "f").register.retention_years == 6
    # The setting's old name is obeyed, and never below the jurisdiction's minimum.
    old_name = {"web": {"retention_years": 4}, "register": {"jurisdiction": "PT"}}
    assert parse_config(old_name, "f").register.retention_years == 5
    for bad, key in (
        ({"register": {"jurisdiction": "PT", "retention_years": 4}}, "register.retention_years"),
        ({"register": {"jurisdiction": "FR"}}, "register.jurisdiction"),
        ({"register": {"retention_years": 7}, "web": {"retention_years": 5}}, "retention_years"),
        ({"register": {"seal": "yes"}}, "register.seal"),
        ({"register": {"keep": 1}}, "register.keep"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config(bad, "f")
        assert key in str(info.value)
    assert parse_config({"register": {"seal": False}}, "f").register.seal is False
