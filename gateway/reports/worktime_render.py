"""Working time as plain rows: for the report's table, CSV and JSON, and the register
export's sheets. Durations are H:MM (and whole minutes in machine formats); times are
local, as the other reports print them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.reports.worktime import MonthSummary, WorkDay
from gateway.reports.worktime_service import WorkTimeReport

DAY_COLUMNS = [
    "uid",
    "name",
    "day",
    "start",
    "end",
    "gross",
    "pauses",
    "pause",
    "net",
    "ordinary",
    "overtime",
    "complementary",
    "compensation",
    "regime",
    "flags",
]
MONTH_COLUMNS = [
    "uid",
    "name",
    "month",
    "days_worked",
    "gross",
    "pause",
    "net",
    "ordinary",
    "overtime_paid",
    "overtime_rest",
    "complementary",
    "flags",
]


def hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def _clock(moment: datetime | None, zone: ZoneInfo, day: Any = None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    text = local.strftime("%H:%M")
    if day is not None and local.date() != day:
        text += f"+{(local.date() - day).days}"
    return text


def regime_text(d: WorkDay) -> str:
    if d.regime is None:
        return ""
    t = d.regime.terms
    share = "full" if t.part_time_percent is None else f"{t.part_time_percent}%"
    return f"{share} {t.weekly_minutes / 60:g}h {t.place}"


def pause_texts(d: WorkDay, zone: ZoneInfo) -> list[str]:
    return [f"{_clock(s, zone, d.day)}-{_clock(e, zone, d.day)}" for s, e in d.pauses]


def flag_text(flags: dict[str, int]) -> str:
    return " ".join(f"{name}={n}" for name, n in sorted(flags.items()))


def day_rows(report: WorkTimeReport) -> list[list[Any]]:
    zone = report.rules.zone
    rows = []
    for uid, person in report.people.items():
        name = report.names.get(uid, "")
        for d in person.days:
            rows.append(
                [
                    uid,
                    name,
                    d.day.isoformat(),
                    _clock(d.start, zone),
                    _clock(d.end, zone, d.day),
                    hours(d.gross),
                    " ".join(pause_texts(d, zone)),
                    hours(d.pause),
                    hours(d.net),
                    hours(d.ordinary),
                    hours(d.overtime),
                    hours(d.complementary),
                    d.compensation or "",
                    regime_text(d),
                    " ".join(d.flags),
                ]
            )
    return rows


def _month_values(m: MonthSummary) -> list[Any]:
    return [
        m.month,
        m.days_worked,
        hours(m.gross),
        hours(m.pause),
        hours(m.net),
        hours(m.ordinary),
        hours(m.overtime_paid),
        hours(m.overtime_rest),
        hours(m.complementary),
        flag_text(m.flags),
    ]


def month_rows(report: WorkTimeReport) -> list[list[Any]]:
    return [
        [uid, report.names.get(uid, ""), *_month_values(m)]
        for uid, person in report.people.items()
        for m in person.months
    ]


def worktime_json(report: WorkTimeReport) -> dict[str, Any]:
    zone = report.rules.zone
    people = []
    for uid, person in report.people.items():
        people.append(
            {
                "uid": uid,
                "name": report.names.get(uid, ""),
                "days": [
                    {
                        "day": d.day.isoformat(),
                        "start": None if d.start is None else d.start.astimezone(zone).isoformat(),
                        "end": None if d.end is None else d.end.astimezone(zone).isoformat(),
                        "pauses": [
                            [s.astimezone(zone).isoformat(), e.astimezone(zone).isoformat()]
                            for s, e in d.pauses
                        ],
                        "gross_minutes": minutes(d.gross),
                        "pause_minutes": minutes(d.pause),
                        "net_minutes": minutes(d.net),
                        "ordinary_minutes": minutes(d.ordinary),
                        "overtime_minutes": minutes(d.overtime),
                        "complementary_minutes": minutes(d.complementary),
                        "compensation": d.compensation,
                        "break_needed_minutes": d.break_needed,
                        "regime_id": None if d.regime is None else d.regime.id,
                        "flags": list(d.flags),
                    }
                    for d in person.days
                ],
                "weeks": [
                    {
                        "monday": w.monday.isoformat(),
                        "net_minutes": minutes(w.net),
                        "ordinary_minutes": minutes(w.ordinary),
                        "extra_minutes": minutes(w.extra),
                        "contract_minutes": minutes(w.contract),
                        "longest_rest_minutes": None
                        if w.longest_rest is None
                        else minutes(w.longest_rest),
                        "average_week_minutes": None if w.average is None else minutes(w.average),
                        "flags": list(w.flags),
                    }
                    for w in person.weeks
                ],
                "months": [
                    {
                        "month": m.month,
                        "days_worked": m.days_worked,
                        "gross_minutes": minutes(m.gross),
                        "pause_minutes": minutes(m.pause),
                        "net_minutes": minutes(m.net),
                        "ordinary_minutes": minutes(m.ordinary),
                        "overtime_paid_minutes": minutes(m.overtime_paid),
                        "overtime_rest_minutes": minutes(m.overtime_rest),
                        "complementary_minutes": minutes(m.complementary),
                        "flags": dict(m.flags),
                    }
                    for m in person.months
                ],
            }
        )
    return {
        "from": report.first_day.isoformat(),
        "to": report.last_day.isoformat(),
        "timezone": zone.key,
        "generated_at": report.generated_at.astimezone(zone).isoformat(timespec="seconds"),
        "people": people,
    }
