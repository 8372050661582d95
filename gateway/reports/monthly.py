"""The monthly summary per worker (issue 22 item 7), in Spanish and English: each
working day's start, end, pauses, net time and class, the month's totals by class,
the regime, the corrections, the flags, and the register's chain head at issue.

Part-time workers (ET art. 12.4.c) and anyone with overtime (ET art. 35.5) receive
it with the payslip. This module gives the content as plain tables (`Summary`); the
CLI writes the PDF and the xlsx (gateway/cli/register_monthly.py), since the derived
figures import no document library.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gateway.config.worktime import WorkTimeRules
from gateway.errors import InvalidInputError, NotFoundError
from gateway.reports.rules import Rules
from gateway.reports.service import local_midnight
from gateway.reports.worktime import PersonWorkTime
from gateway.reports.worktime_render import hours, pause_texts
from gateway.reports.worktime_service import build_worktime
from gateway.store.corrections import CorrectionRow
from gateway.store.regimes import Regime
from gateway.store.stores import Stores

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")

TITLE = "Resumen mensual del registro de jornada / Monthly working-time summary"
DAY_HEADER = [
    "Día / Day",
    "Entrada / Start",
    "Salida / End",
    "Pausas / Pauses",
    "Neto / Net",
    "Ordinarias / Ordinary",
    "Extra / Overtime",
    "Complem. / Complementary",
    "Avisos / Flags",
]
CORRECTION_HEADER = [
    "Id",
    "Tipo / Kind",
    "Fichaje / Punch",
    "Hora / At",
    "Motivo / Reason",
    "Por / By",
    "Cuándo / When",
]
FLAGS = {
    "open": "jornada sin salida / no clock-out",
    "min_break": "sin la pausa mínima (ET 34.4) / minimum break missing",
    "max_ordinary_day": "más de 9 h ordinarias (ET 34.3) / over 9 ordinary hours",
    "daily_rest": "menos de 12 h entre jornadas (ET 34.3) / under 12 h between days",
    "weekly_rest": "descanso semanal insuficiente (ET 37.1) / weekly rest short",
    "average_week": "media semanal sobre 48 h (Dir. 2003/88) / average week over 48 h",
    "overtime": "horas extraordinarias / overtime",
    "complementary": "horas complementarias / complementary hours",
    "corrected": "corregido / corrected",
}
PLACES = {
    "on_site": "presencial / on site",
    "remote": "a distancia / remote",
    "mixed": "mixto / mixed",
}


@dataclass(frozen=True)
class Summary:
    uid: str
    name: str
    month: str
    file_stem: str  # a safe file name for this worker's files
    regime: list[str]  # the regimes in force during the month, described
    days: list[list[Any]]
    totals: list[tuple[str, str]]
    corrections: list[list[Any]]
    flags: list[str]  # the flags that occur, explained
    head: str
    issued: str

    def sheets(self) -> list[tuple[str, list[str], list[list[Any]]]]:
        return [
            ("dias-days", DAY_HEADER, self.days),
            ("totales-totals", ["Concepto / Item", "Total"], [list(t) for t in self.totals]),
            ("correcciones", CORRECTION_HEADER, self.corrections),
        ]


def month_range(text: str) -> tuple[date, date]:
    match = _MONTH.match(text.strip())
    if match is None:
        raise InvalidInputError(f"--month must be YYYY-MM (e.g. 2026-11), got {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def file_stem(uid: str, month: str) -> str:
    """`YYYY-MM_uid`, with anything but letters, digits, '.', '_' and '-' replaced (and
    a short hash of the uid then, so two uids never share a file)."""
    safe = _SAFE.sub("_", uid)
    if safe != uid:
        safe += "-" + hashlib.sha256(uid.encode("utf-8")).hexdigest()[:8]
    return f"{month}_{safe}"


def describe_regime(r: Regime) -> str:
    t = r.terms
    week = f"{t.weekly_minutes / 60:g} h/semana-week"
    if t.part_time_percent is None:
        kind = f"tiempo completo / full time ({week})"
    else:
        kind = f"tiempo parcial / part time {t.part_time_percent} % ({week})"
    extra = "pagadas / paid" if t.overtime_default == "paid" else "descanso / rest"
    return (
        f"desde / from {r.valid_from.isoformat()}: {kind}, {PLACES[t.place]}, "
        f"extras por defecto / overtime by default: {extra}"
    )


def _regimes_of_month(regimes: Sequence[Regime], first: date, last: date) -> list[Regime]:
    """The regime in force on the month's first day, and those starting in it."""
    before = [r for r in regimes if r.valid_from <= first]
    current = max(before, key=lambda r: (r.valid_from, r.id), default=None)
    starting = [r for r in regimes if first < r.valid_from <= last]
    return ([current] if current else []) + sorted(starting, key=lambda r: (r.valid_from, r.id))


def summary_of(
    person: PersonWorkTime,
    name: str,
    month: str,
    regimes: Sequence[Regime],
    fixes: Sequence[CorrectionRow],
    rules: Rules,
    head: str,
    issued: datetime,
) -> Summary:
    zone = rules.zone
    first, last = month_range(month)
    days = [
        [
            f"{d.day.isoformat()}",
            "" if d.start is None else d.start.astimezone(zone).strftime("%H:%M"),
            ""
            if d.end is None
            else d.end.astimezone(zone).strftime("%H:%M")
            + (
                f"+{(d.end.astimezone(zone).date() - d.day).days}"
                if d.end.astimezone(zone).date() != d.day
                else ""
            ),
            " ".join(pause_texts(d, zone)),
            hours(d.net),
            hours(d.ordinary),
            hours(d.overtime) + (f" ({d.compensation})" if d.compensation else ""),
            hours(d.complementary),
            " ".join(d.flags),
        ]
        for d in person.days
    ]
    m = person.months[0] if person.months else None
    if m is None:
        totals: list[tuple[str, str]] = [("Neto / Net", "0:00")]
        seen: set[str] = set()
    else:
        totals = [
            ("Días trabajados / Days worked", str(m.days_worked)),
            ("Tiempo bruto / Gross", hours(m.gross)),
            ("Pausas / Pauses", hours(m.pause)),
            ("Neto / Net", hours(m.net)),
            ("Ordinarias / Ordinary", hours(m.ordinary)),
            ("Extraordinarias pagadas / Overtime paid", hours(m.overtime_paid)),
            ("Extraordinarias con descanso / Overtime as rest", hours(m.overtime_rest)),
            ("Complementarias / Complementary", hours(m.complementary)),
        ]
        seen = set(m.flags)
    for d in person.days:
        seen.update(d.flags)
    for w in person.weeks:
        seen.update(w.flags)
    corrections = [
        [
            c.id,
            c.kind,
            c.direction,
            c.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            c.reason,
            c.created_by,
            c.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        ]
        for c in fixes
    ]
    described = [describe_regime(r) for r in _regimes_of_month(regimes, first, last)]
    return Summary(
        uid=person.person_uid,
        name=name,
        month=month,
        file_stem=file_stem(person.person_uid, month),
        regime=described or ["sin régimen: tiempo completo / no regime: full time"],
        days=days,
        totals=totals,
        corrections=corrections,
        flags=[f"{f}: {FLAGS.get(f, f)}" for f in sorted(seen)],
        head=head,
        issued=issued.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
    )


async def monthly_summaries(
    stores: Stores,
    rules: Rules,
    worktime: WorkTimeRules,
    month: str,
    uids: Sequence[str] = (),
    *,
    now: datetime | None = None,
) -> list[Summary]:
    """One summary per worker with working days in `month` (or per `uids`)."""
    first, last = month_range(month)
    now = now or datetime.now(UTC)
    report = await build_worktime(stores, rules, worktime, first, last, now=now)
    for uid in uids:
        if uid not in report.names:
            raise NotFoundError(f"no person with uid {uid!r}")
    start = local_midnight(first, rules)
    end = local_midnight(last + timedelta(days=1), rules)
    fixes = await stores.corrections.affecting(start, end)
    link = await stores.seals.head()
    head = "none" if link is None else f"{link.seq}:{link.seal}"
    wanted = list(uids) or list(report.people)
    out = []
    for uid in wanted:
        person = report.people.get(uid) or PersonWorkTime(uid, [], [], [])
        out.append(
            summary_of(
                person,
                report.names.get(uid, uid),
                month,
                report.regimes.get(uid, []),
                [c for c in fixes if c.person_uid == uid],
                rules,
                head,
                now,
            )
        )
    return out
