"""`import-original` against a generated database in the original's exact schema.

The expected figures are computed here from the raw original rows with the
original's own rules (its `who`: the slot's timetable rows, taps of the current
shift, the latest one decides), not with the gateway's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.kit.original_db import (
    GONE_UID,
    SHIFTS,
    SLOTS,
    ZONE,
    OriginalData,
    generate,
    load,
)
from bench.kit.pgcluster import PASSWORD, PgCluster
from gateway.domain import normalise_card_key
from gateway.errors import ExitCode, InvalidInputError
from gateway.reports.rules import Rules
from gateway.reports.service import presence
from gateway.store.stores import Stores

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
EXCLUDED = ("FCT", "Mayor de 55 años")
_names = itertools.count(1)


def cli(tmp_path: Path, url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(
        '[gateway]\ntimezone = "Europe/Madrid"\nduplicate_window_s = 5\n\n'
        f"[presence]\nexcluded_rooms = {json.dumps(list(EXCLUDED), ensure_ascii=False)}\n"
        'rule = "shift"\n'
    )
    env = {**os.environ, "CLOCK_GATEWAY_CONFIG": str(config), "CLOCK_GATEWAY_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == code, (done.stdout[-3000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    return done


@pytest.fixture
def original(pg_cluster: PgCluster) -> tuple[str, OriginalData]:
    url = pg_cluster.create_database(f"original_{next(_names)}")
    data = generate(60)
    load(url, data)
    return url, data


# -- the original's rules, from its raw rows ------------------------------------------
def expected_counts(data: OriginalData) -> dict[str, int]:
    users = {u for u, _, _ in data.users}
    keys: dict[str, list[str]] = defaultdict(list)
    for uid, _, key in data.users:
        if key is None:
            continue
        with contextlib.suppress(InvalidInputError):
            keys[normalise_card_key(key)].append(uid)
    return {
        "people": len(data.users),
        "cards": sum(1 for holders in keys.values() if len(holders) == 1),
        "events": sum(1 for _, _, _, u in data.entries if u in users),
        "timetable": sum(1 for _, _, h, _, u in data.schedule if int(h) < 12 and u in users),
    }


def original_who(data: OriginalData, at: datetime) -> dict[str, tuple[bool, str]]:
    """uid -> (present, room), as the original's GET /users computed it."""
    local = at.astimezone(ZONE)
    now = local.time()
    slot = next((h for h, (a, b) in enumerate(SLOTS) if a <= now < b), None)
    shift = next(((a, b) for a, b in SHIFTS if a <= now < b), None)
    if slot is None or shift is None:
        return {}
    since = data.local(local.date(), shift[0])
    stamp = int(at.timestamp())
    result = {}
    for _, day, hour, room, uid in data.schedule:
        if day != str(local.weekday()) or hour != str(slot) or room in EXCLUDED:
            continue
        taps = [(t, i, r) for i, r, t, u in data.entries if u == uid and since <= t <= stamp]
        latest = max(taps) if taps else None
        result[str(uid)] = (latest is not None and latest[2] == "input", room)
    return result


def original_days(data: OriginalData) -> dict[tuple[str, str], tuple[int, int, bool]]:
    """(uid, local date) -> (worked minutes, duplicates, missing out) from in/out pairs."""
    taps: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for i, reader, t, uid in data.entries:
        if uid is not None and uid != GONE_UID:
            taps[uid].append((t, i, reader))
    days: dict[tuple[str, str], tuple[int, int, bool]] = {}
    for uid, rows in taps.items():
        rows.sort()
        last_counted: dict[str, int] = {}
        counted = []
        duplicates: dict[str, int] = defaultdict(int)
        for t, _, reader in rows:
            day = datetime.fromtimestamp(t, ZONE).date().isoformat()
            if reader in last_counted and t - last_counted[reader] < 5:
                duplicates[day] += 1
                continue
            last_counted[reader] = t
            counted.append((t, reader, day))
        for n, (t, reader, day) in enumerate(counted):
            if reader != "input":
                continue
            after = counted[n + 1] if n + 1 < len(counted) else None
            if after is not None and after[1] == "output" and after[0] - t <= 16 * 3600:
                days[(uid, day)] = ((after[0] - t) // 60, duplicates[day], False)
            else:
                days[(uid, day)] = (0, duplicates[day], True)
    return days


# -- the test ----------------------------------------------------------------------------
def test_import_twice_gives_the_originals_counts_who_and_report(
    tmp_path: Path, original: tuple[str, OriginalData], pg_url: str
) -> None:
    source, data = original
    cli(tmp_path, pg_url, "db", "init")
    want = expected_counts(data)

    dry = cli(tmp_path, pg_url, "import-original", "--from", source, "--dry-run", "--json")
    summary = json.loads(dry.stdout)
    assert summary["dry_run"] and summary["people"]["new"] == want["people"]
    assert summary["events"]["new"] == want["events"]
    problems = dry.stderr.strip().splitlines()
    assert all(line.startswith("problem: ") for line in problems)
    text = "\n".join(problems)
    assert "malformed card key '04-zz-12'" in text
    assert "card key 04A10003 held by 2 people: given to none" in text
    assert "no user (userUid is null)" in text and f"no user '{GONE_UID}'" in text
    assert "hour '12' is not a slot (0..11)" in text
    assert len(problems) == 5
    people = json.loads(cli(tmp_path, pg_url, "users", "list", "--json").stdout)
    assert people == []  # the dry run wrote nothing

    first = cli(tmp_path, pg_url, "import-original", "--from", source, "--json", "--batch", "100")
    one = json.loads(first.stdout)
    assert one["source"].endswith(f"/{source.rsplit('/', 1)[1]}") and "***" in one["source"]
    assert one["people"]["new"] == want["people"]
    assert one["cards"]["new"] == want["cards"]
    assert one["events"]["new"] == want["events"]
    assert one["timetable"]["new"] == want["timetable"]
    assert one["timetable_people_changed"] == want["people"]
    assert one["duplicates"] > 0

    second = cli(tmp_path, pg_url, "import-original", "--from", source)
    assert "imported from postgresql://postgres:***@" in second.stdout
    again = json.loads(cli(tmp_path, pg_url, "import-original", "--from", source, "--json").stdout)
    for table in ("people", "cards", "events", "timetable"):
        assert again[table]["new"] == 0, table
    assert again["events"]["unchanged"] == want["events"]

    # who, at every slot of every weekday of the two weeks (start + 5 min, and the middle)
    instants = [
        datetime.combine(day, start, tzinfo=ZONE) + timedelta(minutes=minutes)
        for day in (data.first_day + timedelta(days=n) for n in range(data.days))
        if day.weekday() < 5
        for start, _ in SLOTS
        for minutes in (5, 30)
    ]
    shift_rule, midnight_rule = asyncio.run(_who_at(pg_url, instants))
    for local in instants:
        assert shift_rule[local] == original_who(data, local), local
    statuses = [p for local in instants for p, _ in shift_rule[local].values()]
    assert statuses.count(True) > 100 and statuses.count(False) > 100
    # Taps before 08:15 did not count in the original's morning shift; ours from midnight do.
    assert any(shift_rule[t] != midnight_rule[t] for t in instants)
    # The CLI says the same as the service.
    at = instants[1].astimezone(UTC).isoformat()
    got = json.loads(cli(tmp_path, pg_url, "who", "--at", at, "--json").stdout)
    assert {r["uid"]: (r["status"] == "present", r["room"]) for r in got["scheduled"]} == (
        original_who(data, instants[1])
    )

    # report: worked minutes, duplicates and forgotten clock-outs per person per day
    last = data.first_day + timedelta(days=data.days - 1)
    report = json.loads(
        cli(
            tmp_path,
            pg_url,
            "report",
            "--from",
            data.first_day.isoformat(),
            "--to",
            last.isoformat(),
            "--format",
            "json",
        ).stdout
    )
    ours = {
        (d["uid"], d["date"]): (d["worked_minutes"], d["duplicates"], d["missing_out"] > 0)
        for d in report["days"]
        if d["first_in"] or d["duplicates"]
    }
    assert len(ours) > 300
    # Imported events are marked as such: in the report, who and the export.
    assert all(d["imported"] and "imported" in d["flags"] for d in report["days"] if d["first_in"])
    assert all(r["last_event_imported"] for r in got["scheduled"] if r["last_event"])
    export = cli(tmp_path, pg_url, "events", "export", "--settle", "0", "--limit", "3").stdout
    header, *rows = export.strip().splitlines()
    assert header.endswith(",outcome,gateway_id,source")
    assert all(r.endswith(",import") for r in rows)
    assert any(d[1] for d in ours.values()) and any(d[2] for d in ours.values())
    assert ours == original_days(data)


async def _who_at(
    url: str, instants: list[datetime]
) -> tuple[
    dict[datetime, dict[str, tuple[bool, str]]], dict[datetime, dict[str, tuple[bool, str]]]
]:
    stores = await Stores.open_checked(url)
    out: list[dict[datetime, dict[str, tuple[bool, str]]]] = [{}, {}]
    try:
        for n, rule in enumerate(("shift", "midnight")):
            rules = Rules(zone=ZONE, excluded_rooms=frozenset(EXCLUDED), presence_rule=rule)
            for local in instants:
                report = await presence(stores, rules, local.astimezone(UTC))
                out[n][local] = {r.uid: (r.present, r.room) for r in report.scheduled}
    finally:
        await stores.close()
    return out[0], out[1]


def test_into_sqlite_too(tmp_path: Path, original: tuple[str, OriginalData]) -> None:
    source, data = original
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    cli(tmp_path, url, "db", "init")
    want = expected_counts(data)
    one = json.loads(cli(tmp_path, url, "import-original", "--from", source, "--json").stdout)
    two = json.loads(cli(tmp_path, url, "import-original", "--from", source, "--json").stdout)
    assert (one["people"]["new"], one["cards"]["new"], one["events"]["new"]) == (
        want["people"],
        want["cards"],
        want["events"],
    )
    assert [two[t]["new"] for t in ("people", "cards", "events", "timetable")] == [0, 0, 0, 0]


def test_bad_sources_give_one_line_and_no_password(
    tmp_path: Path, pg_cluster: PgCluster, pg_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    cli(tmp_path, url, "db", "init")
    wrong = pg_cluster.url("postgres", password="not-the-" + PASSWORD)
    cases = [
        (pg_url, ExitCode.BAD_INPUT, "is not the original system's database: no table 'user'"),
        (wrong, ExitCode.DB_UNAVAILABLE, "original database postgresql://postgres:***@"),
        ("mysql://u:pw@host/db", ExitCode.CONFIG, "the original system's database is PostgreSQL"),
    ]
    for source, code, message in cases:
        done = cli(tmp_path, url, "import-original", "--from", source, code=code)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert message in done.stderr
        assert "not-the-" not in done.stderr and ":pw@" not in done.stderr
