"""The retention purge with schema v5's register rows: a correction's steps go with it
(and a kept step holds its correction back), a regime still in force at the cut-off is
copied forward before the old row goes, a superseded one simply goes, old overtime
choices go, and the rest of the chain still verifies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from gateway.store.audit import Actor
from gateway.store.regimes import Terms
from gateway.store.seals import SealStore
from gateway.store.stores import Stores
from tests.register.support import check, existing_person
from tests.store.support import event, open_stores, sql

NOW = datetime.now(UTC)
YEARS_AGO = NOW - timedelta(days=6 * 365)
CUTOFF = NOW - timedelta(days=4 * 365 + 1)


def _stamp(url: str, moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") + ("" if url.startswith("sqlite") else "Z")


async def _old(stores: Stores, url: str, *, late_step: bool) -> None:
    await existing_person(stores, "ana", "Ana")
    await existing_person(stores, "bob", "Bob")
    await stores.swipes.record_events([event("ana", at=YEARS_AGO)])
    old = _stamp(url, YEARS_AGO)
    sql(
        url,
        "INSERT INTO corrections (person_uid, kind, direction, at, reason, created_by, "
        f"created_at) VALUES ('ana', 'add', 'out', '{old}', 'forgot', 'hr', '{old}')",
    )
    sql(
        url,
        "INSERT INTO correction_steps (correction_id, step, side, actor, at) "
        f"VALUES (1, 'proposed', 'company', 'hr', '{old}')",
    )
    regimes = "INSERT INTO work_regimes (person_uid, valid_from, kind, weekly_minutes, "
    regimes += "part_time_percent, place, created_by, created_at) VALUES "
    # Ana: one regime, still in force. Bob: an old one superseded by an old one.
    sql(url, regimes + f"('ana', '2020-01-01', 'part_time', 1200, 50, 'on_site', 'hr', '{old}')")
    sql(url, regimes + f"('bob', '2019-01-01', 'full_time', 2400, NULL, 'remote', 'hr', '{old}')")
    sql(url, regimes + f"('bob', '2020-01-01', 'full_time', 2250, NULL, 'remote', 'hr', '{old}')")
    sql(
        url,
        "INSERT INTO overtime_choices (person_uid, month, choice, created_by, created_at) "
        f"VALUES ('ana', '2020-11', 'rest', 'hr', '{old}')",
    )
    sealed = await SealStore(stores.db, clock=lambda: YEARS_AGO + timedelta(days=1)).seal_pending()
    assert sealed.sealed == 7
    if late_step:  # accepted only now: the trail is still kept, so is its correction
        sql(
            url,
            "INSERT INTO correction_steps (correction_id, step, side, actor) "
            "VALUES (1, 'accepted', 'worker', 'ana')",
        )
    await stores.swipes.record_events([event("ana")])
    await stores.seals.seal_pending()


async def test_the_purge_carries_the_regime_in_force_and_removes_the_rest(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _old(stores, db_url, late_step=False)
        result = await stores.retention.purge(CUTOFF, Actor.cli())
        assert result.through_seq == 7 and result.corrections == 1 and result.events == 1
        report = await check(stores)
        assert report.ok, report.findings
        # Ana's regime in force was copied forward, sealed; Bob keeps his newest only.
        regimes = sql(
            db_url,
            "SELECT person_uid, valid_from, kind, weekly_minutes, created_by FROM work_regimes "
            "ORDER BY person_uid",
        )
        assert [(r[0], str(r[1]), r[2], r[3], r[4]) for r in regimes] == [
            ("ana", "2020-01-01", "part_time", 1200, "retention"),
            ("bob", "2020-01-01", "full_time", 2250, "retention"),
        ]
        regime = await stores.regimes.in_force("ana", date(2026, 11, 2))
        assert regime is not None and regime.terms == Terms("part_time", 1200, 50, "on_site")
        assert report.rows["regime"] == 2
        for table in ("correction_steps", "corrections", "overtime_choices"):
            assert sql(db_url, f"SELECT count(*) FROM {table}") == [(0,)], table
        details = sql(db_url, "SELECT details FROM audit_log WHERE action = 'events.purge'")
        assert '"regimes_carried": 2' in details[0][0]


async def test_a_step_kept_holds_its_correction_back(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        await _old(stores, db_url, late_step=True)
        result = await stores.retention.purge(CUTOFF, Actor.cli())
        # The event (seal 1) may go; the correction (seal 2) and all after it stay.
        assert result.through_seq == 1 and result.corrections == 0
        assert sql(db_url, "SELECT count(*) FROM correction_steps") == [(2,)]
        report = await check(stores)
        assert report.ok, report.findings
