"""Reports as plain rows: what the CLI prints as a table, CSV, JSON or JSON lines.

Times shown to people are local (the configured zone) with their UTC offset in
machine formats, so a time inside a repeated DST hour is never ambiguous.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from typing import Any

from gateway.reports.presence import PresenceRow, WhoReport
from gateway.reports.sessions import DayReport, MonthTotal, Report
from gateway.reports.timeparse import format_duration, weekday_name
from gateway.store.models import StoredEvent, TimetableEntry

DAY_COLUMNS = (
    "kind",
    "uid",
    "name",
    "date",
    "first_in",
    "last_out",
    "worked",
    "worked_minutes",
    "scheduled",
    "sessions",
    "missing_out",
    "out_without_in",
    "duplicates",
    "late_minutes",
    "absent",
    "flags",
)
MONTH_COLUMNS = (
    "kind",
    "uid",
    "name",
    "month",
    "days_worked",
    "worked",
    "worked_minutes",
    "scheduled",
    "missing_out",
    "out_without_in",
    "duplicates",
    "late_days",
    "late_minutes",
    "absent_days",
)
# One CSV for both kinds of row: day rows, then month rows (kind = 'month',
# date = 'YYYY-MM'); a column that does not apply to a kind is left empty.
CSV_COLUMNS = (
    "kind",
    "uid",
    "name",
    "date",
    "first_in",
    "last_out",
    "worked",
    "worked_minutes",
    "scheduled",
    "sessions",
    "days_worked",
    "missing_out",
    "out_without_in",
    "duplicates",
    "late_minutes",
    "late_days",
    "absent",
    "absent_days",
    "flags",
)
EXPORT_COLUMNS = (
    "id",
    "event_key",
    "person_uid",
    "card_key",
    "direction",
    "reader",
    "reader_hw_id",
    "received_at",
    "received_local",
    "stored_at",
    "outcome",
    "gateway_id",  # last: the columns before it keep their places for existing importers
    "source",
)


def iso_local(moment: datetime | None, zone: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat(timespec="seconds")


def hhmm(moment: datetime | None, zone: tzinfo, day: date | None = None) -> str:
    """'08:02', or '06:00+1' when the time falls on a later day than `day`."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    text = local.strftime("%H:%M")
    if day is not None and local.date() != day:
        text += f"+{(local.date() - day).days}"
    return text


def day_row(d: DayReport, report: Report) -> dict[str, Any]:
    zone = report.rules.zone
    return {
        "kind": "day",
        "uid": d.person_uid,
        "name": report.names.get(d.person_uid, d.person_uid),
        "date": d.day.isoformat(),
        "first_in": iso_local(d.first_in, zone),
        "last_out": iso_local(d.last_out, zone),
        "worked": format_duration(d.worked.total_seconds()),
        "worked_minutes": int(d.worked.total_seconds() // 60),
        "scheduled": format_duration(d.scheduled.total_seconds()),
        "sessions": d.sessions,
        "missing_out": d.missing_out,
        "out_without_in": d.out_without_in,
        "duplicates": d.duplicates,
        "late_minutes": d.late_minutes,
        "absent": d.absent,
        "imported": d.imported,
        "flags": d.flags,
    }


def month_row(m: MonthTotal, report: Report) -> dict[str, Any]:
    return {
        "kind": "month",
        "uid": m.person_uid,
        "name": report.names.get(m.person_uid, m.person_uid),
        "month": m.month,
        "days_worked": m.days_worked,
        "worked": format_duration(m.worked.total_seconds()),
        "worked_minutes": int(m.worked.total_seconds() // 60),
        "scheduled": format_duration(m.scheduled.total_seconds()),
        "missing_out": m.missing_out,
        "out_without_in": m.out_without_in,
        "duplicates": m.duplicates,
        "late_days": m.late_days,
        "late_minutes": m.late_minutes,
        "absent_days": m.absent_days,
    }


def report_json(report: Report) -> dict[str, Any]:
    return {
        "from": report.first_day.isoformat(),
        "to": report.last_day.isoformat(),
        "timezone": report.rules.zone.key,
        "late_grace_min": int(report.rules.late_grace.total_seconds() // 60),
        "generated_at": iso_local(report.generated_at, report.rules.zone),
        "days": [day_row(d, report) for d in report.days],
        "months": [month_row(m, report) for m in report.months],
    }


def report_csv_rows(report: Report) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for d in report.days:
        data = day_row(d, report)
        data["flags"] = " ".join(data["flags"])
        data["absent"] = "yes" if data["absent"] else ""
        rows.append([_csv(data.get(c)) for c in CSV_COLUMNS])
    for m in report.months:
        data = month_row(m, report)
        data["date"] = data.pop("month")
        rows.append([_csv(data.get(c)) for c in CSV_COLUMNS])
    return rows


def _csv(value: Any) -> Any:
    return "" if value is None else value


def report_table_days(report: Report) -> tuple[list[str], list[list[Any]]]:
    zone = report.rules.zone
    headers = ["DATE", "UID", "NAME", "IN", "OUT", "WORKED", "SCHED", "FLAGS"]
    rows = [
        [
            f"{d.day.isoformat()} {weekday_name(d.day.isoweekday())}",
            d.person_uid,
            report.names.get(d.person_uid, d.person_uid),
            hhmm(d.first_in, zone, d.day),
            hhmm(d.last_out, zone, d.day),
            format_duration(d.worked.total_seconds()),
            format_duration(d.scheduled.total_seconds()) if d.scheduled else "",
            " ".join(d.flags),
        ]
        for d in report.days
    ]
    return headers, rows


def report_table_months(report: Report) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "MONTH",
        "UID",
        "NAME",
        "DAYS",
        "WORKED",
        "SCHED",
        "NO-OUT",
        "NO-IN",
        "LATE",
        "ABSENT",
    ]
    rows = [
        [
            m.month,
            m.person_uid,
            report.names.get(m.person_uid, m.person_uid),
            m.days_worked,
            format_duration(m.worked.total_seconds()),
            format_duration(m.scheduled.total_seconds()),
            m.missing_out or "",
            m.out_without_in or "",
            f"{m.late_days}d/{m.late_minutes}min" if m.late_days else "",
            m.absent_days or "",
        ]
        for m in report.months
    ]
    return headers, rows


def presence_row(r: PresenceRow, zone: tzinfo) -> dict[str, Any]:
    return {
        "uid": r.uid,
        "name": r.name,
        "room": r.room,
        "start": _hm(r.start),
        "end": _hm(r.end),
        "status": "present" if r.present else "absent",
        "last_event": r.last_event,
        "last_event_at": iso_local(r.last_event_at, zone),
        "last_event_imported": r.last_event_imported,
        "corrected": r.corrected,
    }


def who_json(report: WhoReport, zone: tzinfo) -> dict[str, Any]:
    return {
        "at": iso_local(report.at, zone),
        "server_time": iso_local(report.server_time, zone),
        "server_time_unix": int(report.server_time.timestamp()),
        "scheduled": [presence_row(r, zone) for r in report.scheduled],
        "present": len(report.present),
        "absent": len(report.absent),
        "unscheduled_in": [presence_row(r, zone) for r in report.unscheduled_in],
    }


def _hm(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def timetable_row(e: TimetableEntry, names: dict[str, str]) -> dict[str, Any]:
    return {
        "uid": e.person_uid,
        "name": names.get(e.person_uid, e.person_uid),
        "weekday": e.weekday,
        "weekday_name": weekday_name(e.weekday),
        "start": _hm(e.start),
        "end": _hm(e.end),
        "crosses_midnight": e.end < e.start,
        "room": e.room,
    }


def export_row(e: StoredEvent, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": e.id,
        "event_key": str(e.event_key),
        "person_uid": e.person_uid,
        "card_key": e.card_key,
        "direction": str(e.direction),
        "reader": e.reader,
        "reader_hw_id": e.reader_hw_id,
        "received_at": e.received_at.isoformat(),
        "received_local": iso_local(e.received_at, zone),
        "stored_at": e.stored_at.isoformat(),
        "outcome": str(e.outcome),
        "gateway_id": e.gateway_id,
        "source": e.source,
    }
