"""Reports: per person per month, the table `report` prints, and its downloads."""

from __future__ import annotations

import asyncio
from calendar import monthrange
from datetime import date, datetime

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInputError
from gateway.reports import render as rows
from gateway.reports.service import build_report
from gateway.reports.sessions import Report
from gateway.reports.timeparse import format_duration
from gateway.store import validate
from gateway.web import exports, paging
from gateway.web.context import admin, ctx_of, render


def _month(value: str | None, today: date) -> date:
    if not value:
        return today.replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise InvalidInputError(f"bad month {value!r}: use YYYY-MM") from None


async def _report(
    request: Request, uids: list[str] | None = None
) -> tuple[Report, date, str | None]:
    ctx = ctx_of(request)
    first = _month(request.query_params.get("month"), datetime.now(ctx.zone).date())
    last = first.replace(day=monthrange(first.year, first.month)[1])
    uid = request.query_params.get("uid", "").strip() or None
    report = await build_report(ctx.stores, ctx.rules, first, last, uid=uid, uids=uids)
    return report, first, uid


# People per page of the month's totals (one with no day in the month has no row). A
# school's month for everyone was 2,000 options in a select and 44,000 day rows
# (megabytes): the days now show for one person (the uid field, as on /corrections),
# and the totals page by uid.
REPORT_PEOPLE = 100


@admin
async def reports_page(request: Request) -> Response:
    """One person's days and totals (?uid=), or everyone's totals a page of
    REPORT_PEOPLE at a time, keyset by uid (web/paging.py), each name a link to their
    days. The download (/reports/download) stays the whole month. Only the page's
    people are built: everyone's month took a second and a half at 2,000 people."""
    ctx = ctx_of(request)
    try:
        uid = request.query_params.get("uid", "").strip() or None
        if uid:
            validate.uid(uid)
        after = paging.decode_cursor(request.query_params.get("after"), (str,))
        page: list[str] | None = None
        more = False
        if uid is None:
            # One more than a page: whether there is a next one.
            ahead = await ctx.stores.people.uids(
                after=None if after is None else after[0], limit=REPORT_PEOPLE + 1
            )
            more, page = len(ahead) > REPORT_PEOPLE, ahead[:REPORT_PEOPLE]
        report, first, uid = await _report(request, page)
    except InvalidInputError as exc:  # also a uid nobody has
        return paging.bad_request(request, exc)
    zone = ctx.zone
    days = [
        {
            "date": d.day,
            "uid": d.person_uid,
            "name": report.names.get(d.person_uid, d.person_uid),
            "in": rows.hhmm(d.first_in, zone, d.day),
            "out": rows.hhmm(d.last_out, zone, d.day),
            "worked": format_duration(d.worked.total_seconds()),
            "scheduled": format_duration(d.scheduled.total_seconds()) if d.scheduled else "",
            "flags": d.flags,
        }
        for d in report.days
        if uid is not None
    ]
    months = sorted(rows.report_table_months(report)[1], key=lambda m: str(m[1]))
    return render(
        request,
        "reports.html",
        uid=uid,
        person=report.names.get(uid) if uid else None,
        month=f"{first:%Y-%m}",
        days=days,
        months=months,
        next_url=paging.url_with(request, after=paging.encode_cursor([page[-1]]))
        if more and page
        else None,
        first_url=paging.url_with(request) if after else None,
    )


@admin
async def reports_download(request: Request) -> Response:
    ctx = ctx_of(request)
    kind = request.query_params.get("format", "csv")
    try:
        report, first, uid = await _report(request)
    except InvalidInputError as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    name = f"report-{first:%Y-%m}" + (f"-{uid}" if uid else "")
    name = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name)
    if kind == "xlsx":
        body = await asyncio.to_thread(exports.report_xlsx, report)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, media, kind = exports.report_csv(report, ctx.locale), "text/csv; charset=utf-8", "csv"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"'},
    )


@admin
async def totals_page(request: Request) -> Response:
    """Per person, the month's totals and nothing of the days: what the workers'
    representatives may see (roles.py gives every role this page)."""
    ctx = ctx_of(request)
    try:
        first = _month(request.query_params.get("month"), datetime.now(ctx.zone).date())
    except InvalidInputError as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    last = first.replace(day=monthrange(first.year, first.month)[1])
    report = await build_report(ctx.stores, ctx.rules, first, last)
    totals = []
    for m in sorted(report.months, key=lambda m: report.names.get(m.person_uid, m.person_uid)):
        beyond = (m.worked - m.scheduled).total_seconds()
        totals.append(
            {
                "name": report.names.get(m.person_uid, m.person_uid),
                "days": m.days_worked,
                "worked": format_duration(m.worked.total_seconds()),
                "scheduled": format_duration(m.scheduled.total_seconds()),
                "over": format_duration(beyond) if beyond > 0 else "",
                "under": format_duration(-beyond) if beyond < 0 else "",
            }
        )
    return render(request, "totals.html", month=f"{first:%Y-%m}", totals=totals)
