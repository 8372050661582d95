"""The Inspector's export (issue 21 item 7): the register over a range, in a directory.

Per worker per day: the start, the end and each pause, the corrections with their
trail (who proposed, who agreed or refused, when, why), daily and
monthly totals; as CSV, xlsx and PDF, with MANIFEST.sha256 (`sha256sum -c` checks
it), HEAD.txt (the chain head at export time) and README.txt (how to verify).

The days come from build_report, so the pairing (and so the pauses: the gaps between
one day's sessions) is the reports' own, never a second one. Nothing partial is left:
the files are written into a temporary directory beside the target and renamed onto
it at the end.

Both faces call `export_and_record` (the CLI's `register export` into a directory,
the web's /register/export into a temporary one it then zips with `zip_export`): the
same files, the same manifest, the head appended to the heads log and logged, and an
audit row saying who exported which range of whom, with the head.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.config.worktime import WorkTimeRules
from gateway.csvout import csv_writer
from gateway.errors import InvalidInputError, NotFoundError
from gateway.logs import get_logger
from gateway.reports import worktime_render
from gateway.reports.rules import Rules
from gateway.reports.service import build_report, local_midnight
from gateway.reports.sessions import DayReport, MonthTotal, Report, month_totals
from gateway.reports.worktime import history_start
from gateway.reports.worktime_service import build_worktime
from gateway.store.audit import Actor
from gateway.store.chain import Link
from gateway.store.corrections import CorrectionRow
from gateway.store.heads import append_head
from gateway.store.stores import Stores

log = get_logger("register")
MANIFEST = "MANIFEST.sha256"
# (name, header, rows) of one table; a Documents writes the xlsx and PDF of them into a
# directory. It is passed in (gateway/documents/export_files.py) because the derived figures
# never import a spreadsheet library (tests/test_architecture.py).
Sheet = tuple[str, list[str], list[list[Any]]]
Documents = Callable[[Path, str, str, list[Sheet]], None]
DAY_COLUMNS = ["uid", "name", "day", "start", "end", "pauses", "worked", "sessions", "flags"]
CORRECTION_COLUMNS = [
    "id",
    "uid",
    "name",
    "kind",
    "direction",
    "at",
    "event_id",
    "reason",
    "who",
    "when",
    "state",
    "who_agreed",
    "when_agreed",
]
# The whole agreement trail: one row per step (proposed, accepted, rejected, withdrawn).
STEP_COLUMNS = ["correction_id", "uid", "step", "side", "who", "when", "note"]
MONTH_COLUMNS = ["uid", "name", "month", "days_worked", "worked"]


@dataclass(frozen=True)
class ExportResult:
    out: Path
    files: list[str]
    head: Link | None
    days: int
    corrections: int


def hours(span: timedelta) -> str:
    """A duration as H:MM (worked time is never negative)."""
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _clock(moment: datetime | None, rules: Rules) -> str:
    if moment is None:
        return ""
    t = moment.astimezone(rules.zone)
    # Formatted by hand: strftime was a tenth of a year's export (four calls a day row).
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}"


def pauses(day: DayReport, rules: Rules) -> list[str]:
    """Each pause of the day: an out followed by the next in of the same day's sessions."""
    spans = day.intervals
    return [
        f"{_clock(spans[i][1], rules)}-{_clock(spans[i + 1][0], rules)[-5:]}"
        for i in range(len(spans) - 1)
    ]


def day_rows(report: Report) -> list[list[Any]]:
    rules = report.rules
    return [
        [
            d.person_uid,
            report.names.get(d.person_uid, ""),
            d.day.isoformat(),
            _clock(d.first_in, rules),
            _clock(d.last_out, rules),
            " ".join(pauses(d, rules)),
            hours(d.worked),
            d.sessions,
            " ".join(d.flags),
        ]
        for d in report.days
    ]


def correction_rows(
    fixes: Iterable[CorrectionRow], names: dict[str, str], rules: Rules
) -> list[list[Any]]:
    return [
        [
            c.id,
            c.person_uid,
            names.get(c.person_uid, ""),
            c.kind,
            c.direction,
            _clock(c.at, rules),
            c.event_id,
            c.reason,
            c.created_by,
            _clock(c.created_at, rules),
            c.state,  # legacy (before agreement existed), pending, accepted, ...
            *_agreed(c, rules),
        ]
        for c in fixes
    ]


def _agreed(c: CorrectionRow, rules: Rules) -> list[str]:
    """Who answered a proposal, and when (empty while it waits, and for legacy ones)."""
    answer = next((s for s in c.steps if s.step != "proposed"), None)
    return ["", ""] if answer is None else [answer.actor, _clock(answer.at, rules)]


def step_rows(fixes: Iterable[CorrectionRow], rules: Rules) -> list[list[Any]]:
    return [
        [c.id, c.person_uid, s.step, s.side, s.actor, _clock(s.at, rules), s.note]
        for c in fixes
        for s in c.steps
    ]


def month_rows(months: Sequence[MonthTotal], names: dict[str, str]) -> list[list[Any]]:
    return [
        [m.person_uid, names.get(m.person_uid, ""), m.month, m.days_worked, hours(m.worked)]
        for m in months
    ]


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv_writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def narrow(report: Report, first_day: date) -> Report:
    """`report`'s days from `first_day` on, and their month totals: what a report
    built over [first_day, report.last_day] holds, since every day is built from the
    events read max_session around it either way (tests/reports: the same rows)."""
    days = [d for d in report.days if d.day >= first_day]
    return replace(report, first_day=first_day, days=days, months=month_totals(days))


def check_target(out: Path) -> None:
    """Refuse a target that exists and is not an empty directory."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"--out {out} exists and is not an empty directory")
    if not out.parent.is_dir():
        raise InvalidInputError(f"--out {out}: no directory {out.parent}")


async def export_register(
    stores: Stores,
    rules: Rules,
    first_day: date,
    last_day: date,
    out: Path,
    *,
    documents: Documents,
    uids: Sequence[str] = (),
    now: datetime | None = None,
    worktime_rules: WorkTimeRules | None = None,
) -> ExportResult:
    """Write the export of [first_day, last_day] (the people `uids`, or everyone) to `out`."""
    if last_day < first_day:
        raise InvalidInputError(f"--to {last_day} is before --from {first_day}")
    check_target(out)
    # One read from far enough back for the working-time rules (17 weeks before the
    # first day), narrowed to the range for the day table: reading the year once for
    # the days and again for the working time cost a year's export 40 % more. The lean
    # stream (one SELECT of the columns the rules read, ids included, so voids apply),
    # not events_between's whole rows: a year of 200 workers is 400,000.
    worktime_rules = worktime_rules or WorkTimeRules()
    history = await build_report(
        stores,
        rules,
        history_start(first_day, worktime_rules),
        last_day,
        now=now,
        source=stores.events.swipes_between,
    )
    report = narrow(history, first_day)
    known = report.names
    for uid in uids:
        if uid not in known:
            raise NotFoundError(f"no person with uid {uid!r}")
    wanted = set(uids)
    if wanted:
        days = [d for d in report.days if d.person_uid in wanted]
        months = [m for m in report.months if m.person_uid in wanted]
        report = Report(
            report.first_day, report.last_day, rules, report.generated_at, known, days, months
        )
    start = local_midnight(first_day, rules)
    end = local_midnight(last_day + timedelta(days=1), rules)
    fixes = [
        c
        for c in await stores.corrections.affecting(start, end)
        if not wanted or c.person_uid in wanted
    ]
    head = await stores.seals.head()
    # Working time as the law counts it: each pause, net time, the hour classes and
    # the limit flags (issue 22), in tables of their own so the day table stays as it was.
    worktime = await build_worktime(
        stores, rules, worktime_rules, first_day, last_day, now=now, history=history
    )
    if wanted:
        worktime = replace(
            worktime, people={u: p for u, p in worktime.people.items() if u in wanted}
        )

    days_rows = day_rows(report)
    fix_rows = correction_rows(fixes, known, rules)
    trail_rows = step_rows(fixes, rules)
    total_rows = month_rows(report.months, known)
    title = f"Working-time register {first_day} to {last_day}"
    tables: list[Sheet] = [
        ("days", DAY_COLUMNS, days_rows),
        ("corrections", CORRECTION_COLUMNS, fix_rows),
        ("correction_steps", STEP_COLUMNS, trail_rows),
        ("months", MONTH_COLUMNS, total_rows),
        ("worktime", worktime_render.DAY_COLUMNS, worktime_render.day_rows(worktime)),
        ("worktime_months", worktime_render.MONTH_COLUMNS, worktime_render.month_rows(worktime)),
    ]
    # The files are written on a thread: a year's PDF takes seconds, and the web's
    # event loop goes on serving meanwhile.
    files = await asyncio.to_thread(
        _write_files, out, tables, documents, title, head_text(head), first_day, last_day
    )
    return ExportResult(out, files, head, len(days_rows), len(fix_rows))


def head_text(head: Link | None) -> str:
    return "none (nothing sealed yet)" if head is None else f"{head.seq}:{head.seal}"


def _write_files(
    out: Path,
    tables: list[Sheet],
    documents: Documents,
    title: str,
    head: str,
    first_day: date,
    last_day: date,
) -> list[str]:
    """The files into a staging directory beside `out`, renamed onto it when complete."""
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, header, rows in tables:
            _write_csv(staging / f"{name}.csv", header, rows)
        documents(staging, title, head, tables)
        (staging / "HEAD.txt").write_text(head + "\n", encoding="utf-8")
        (staging / "README.txt").write_text(
            readme_text(first_day, last_day, head, MANIFEST), encoding="utf-8"
        )
        files = sorted(p.name for p in staging.iterdir())
        manifest = "".join(f"{sha256_file(staging / name)}  {name}\n" for name in files)
        (staging / MANIFEST).write_text(manifest, encoding="utf-8")
        os.chmod(staging, 0o755)
        if out.exists():
            out.rmdir()  # empty (checked): rename needs it gone
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [*files, MANIFEST]


async def export_and_record(
    stores: Stores,
    rules: Rules,
    first_day: date,
    last_day: date,
    out: Path,
    *,
    documents: Documents,
    actor: Actor,
    state_dir: Path,
    gateway_id: str,
    uids: Sequence[str] = (),
    now: datetime | None = None,
    worktime_rules: WorkTimeRules | None = None,
) -> ExportResult:
    """The export both faces make: the files in `out`, the head copied to the heads log
    (state_dir) and the journal, and an audit row (who, range, people, head).

    The audit row is written after the files: an export that failed leaves none, and
    the row's own seal comes after the head it names (the head is the register as
    exported)."""
    result = await export_register(
        stores,
        rules,
        first_day,
        last_day,
        out,
        documents=documents,
        uids=uids,
        now=now,
        worktime_rules=worktime_rules,
    )
    head = result.head
    if head is not None:
        await asyncio.to_thread(append_head, state_dir, head, why="export", gateway=gateway_id)
    text = head_text(head)
    log.info("register_head", head=text, why="export", out=str(out))
    await stores.audit.record(
        actor,
        "register.export",
        ",".join(uids) or None,
        {
            "from": first_day.isoformat(),
            "to": last_day.isoformat(),
            "people": list(uids) or "all",
            "head": text,
            "days": result.days,
            "corrections": result.corrections,
        },
    )
    return result


def zip_export(out: Path) -> bytes:
    """The export directory as one zip, its files under a folder of the directory's
    name: `unzip` it, then `sha256sum -c MANIFEST.sha256` inside that folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(out.iterdir()):
            archive.write(path, f"{out.name}/{path.name}")
    return buffer.getvalue()


def readme_text(first: date, last: date, head: str, manifest: str) -> str:
    return f"""clock-gateway: the working-time register from {first} to {last}

Files: days.csv (per worker per day: start, end, pauses, worked time, flags),
corrections.csv (each correction: who made it, when, why, its state, who agreed
and when; "legacy" ones were made before agreement was recorded and are in force,
"pending" ones wait for the other side and are not counted yet), correction_steps.csv
(the whole trail: every proposal, acceptance, rejection and withdrawal with who, when
and why), months.csv (monthly totals), worktime.csv (per worker per working day: gross
span, each pause, net time, ordinary, overtime and complementary hours, overtime paid
or rest, the regime, the limit flags), worktime_months.csv (the month's totals by
class), register.xlsx and register.pdf (the same six tables), HEAD.txt (the register's
chain head at export time).

1. Check that no file was changed since the export, with standard tools:

       sha256sum -c {manifest}

   Every line must say OK.

2. Check the head against the database: the chain head at export time was

       {head}

   On the employer's system: clock-gateway register verify --head {head}
   By hand, recompute the seals as docs/REGISTER.md ("How an Inspector checks the
   register") shows: each seal is the SHA-256 of prev|seq|kind|row_id|sealed_at|
   SHA-256(payload), and the seal at the head's position must equal the value above.
"""
