"""Working time from a real database (issue 22 items 2 and 3): `report --worktime` and
the register export's worktime tables, with a regime set through the store, taps
through the swipe path and a correction, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import subprocess
from datetime import date
from pathlib import Path

from gateway.domain import Direction
from gateway.store.audit import Actor
from gateway.store.regimes import Terms
from tests.register.support import existing_person
from tests.register.test_export import pdf_text
from tests.reports.helpers import local
from tests.store.support import event, open_stores
from tests.store.test_upgrade import Cli

HR = Actor("rrhh")
ZONE_CONFIG = '[gateway]\ntimezone = "Europe/Madrid"\n'


def _cli(tmp_path: Path, url: str) -> Cli:
    cli = Cli(tmp_path, url)
    cli.config.write_text(ZONE_CONFIG + cli.config.read_text().replace("[gateway]\n", "", 1))
    return cli


async def _fill(url: str) -> None:
    # A 50 % part-timer: Monday to Thursday 5 h (Monday with a 20-minute pause), then
    # 3 h on Friday beyond her 20 h contract; Friday's clock-out was forgotten and
    # added by a correction.
    async with open_stores(url) as stores:
        await existing_person(stores, "ana", "Ana García", "04A1B2C3")
        half = Terms("part_time", 1200, 50, "on_site", "paid")
        await stores.regimes.add("ana", date(2026, 11, 1), half, HR)
        taps = [("in", "2026-11-02", "09:00"), ("out", "2026-11-02", "11:00")]
        taps += [("in", "2026-11-02", "11:20"), ("out", "2026-11-02", "14:20")]
        for day in ("2026-11-03", "2026-11-04", "2026-11-05"):
            taps += [("in", day, "09:00"), ("out", day, "14:00")]
        taps += [("in", "2026-11-06", "09:00")]
        await stores.swipes.record_events(
            [event("ana", at=local(d, t), direction=Direction(w)) for w, d, t in taps]
        )
        await stores.corrections.add_missing(
            "ana", "out", local("2026-11-06", "12:00"), "card forgotten", HR
        )


async def test_report_worktime_and_the_export_carry_pauses_net_and_classes(
    db_url: str, tmp_path: Path
) -> None:
    await _fill(db_url)
    cli = _cli(tmp_path, db_url)
    out, _ = cli(
        "report", "--from", "2026-11-01", "--to", "2026-11-30", "--worktime", "--format", "json"
    )
    [ana] = json.loads(out)["people"]
    days = {d["day"]: d for d in ana["days"]}
    monday, friday = days["2026-11-02"], days["2026-11-06"]
    assert monday["pauses"] == [["2026-11-02T11:00:00+01:00", "2026-11-02T11:20:00+01:00"]]
    assert (monday["gross_minutes"], monday["pause_minutes"], monday["net_minutes"]) == (
        320,
        20,
        300,
    )
    assert (friday["ordinary_minutes"], friday["complementary_minutes"]) == (0, 180)
    assert friday["flags"] == ["complementary", "corrected"]
    [november] = ana["months"]
    assert (november["ordinary_minutes"], november["complementary_minutes"]) == (1200, 180)

    table, _ = cli("report", "--from", "2026-11-01", "--to", "2026-11-30", "--worktime")
    assert "11:00-11:20" in table and "complementary corrected" in table

    cli("register", "seal")
    export = tmp_path / "export"
    cli("register", "export", "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(export))
    with (export / "worktime.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["day"], r["pauses"], r["net"], r["ordinary"], r["complementary"]) for r in rows] == [
        ("2026-11-02", "11:00-11:20", "5:00", "5:00", "0:00"),
        ("2026-11-03", "", "5:00", "5:00", "0:00"),
        ("2026-11-04", "", "5:00", "5:00", "0:00"),
        ("2026-11-05", "", "5:00", "5:00", "0:00"),
        ("2026-11-06", "", "3:00", "0:00", "3:00"),
    ]
    assert rows[0]["regime"] == "50% 20h on_site"
    with (export / "worktime_months.csv").open(encoding="utf-8") as f:
        [month] = list(csv.DictReader(f))
    assert (month["net"], month["ordinary"], month["complementary"]) == ("23:00", "20:00", "3:00")
    check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=export, capture_output=True)
    assert check.returncode == 0 and b"worktime.csv: OK" in check.stdout
    lines = [" ".join(line.split()) for line in pdf_text(export).splitlines()]
    assert any(
        line.startswith("ana | Ana García | 2026-11-06 | 09:00 | 12:00 | 3:00 |") for line in lines
    ), lines
