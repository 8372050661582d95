"""One person's page, /people/{uid}: who they are, their cards, their working regime
(its history, read only: `clock-gateway regime set` changes it), their timetable, a
month of their days with the report's flags, their corrections and (for the roles
that may read the audit log) their audit trail, paged. The changes are forms posting
to routes_people.py's actions, which come back here.

A uid the people list links to is quoted whole (`person_url`), so a uid with a slash
or a percent sign reaches its own page; and every GET under /people/ is a person's
page (the other /people/... routes are POST only; the unknown cards' event stream is
at /cards/unknown/events), so no uid is shadowed, "live" or "add" included.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInputError
from gateway.reports import render as report_rows
from gateway.reports.service import build_report
from gateway.reports.timeparse import format_duration
from gateway.store import validate
from gateway.store.regimes import in_force
from gateway.web import auth, paging, roles
from gateway.web.context import admin, ctx_of, render

AUDIT_PAGE = 20
CORRECTIONS_SHOWN = 20
UNKNOWN_OFFERED = 20  # recently tapped unknown cards offered when assigning one


def person_url(uid: str) -> str:
    return "/people/" + quote(uid, safe="")


def _month(value: str | None, today: date) -> date:
    if not value:
        return today.replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise InvalidInputError(f"bad month {value!r}: use YYYY-MM") from None


@admin
async def person_page(request: Request) -> Response:
    ctx = ctx_of(request)
    try:  # a uid no one can have (a NUL, 5,000 characters) is nobody's page
        uid = validate.uid(request.path_params["uid"])
    except InvalidInputError:
        return render(request, "message.html", 404, title="404", text="not_found")
    record = await ctx.stores.people.person(uid)
    if record is None:
        return render(request, "message.html", 404, title="404", text="not_found")
    account = auth.of(request)
    role = account.role if account is not None else None
    try:
        first = _month(request.query_params.get("month"), datetime.now(ctx.zone).date())
        before = paging.decode_cursor(request.query_params.get("audit_before"), (int,))
    except InvalidInputError as exc:
        return paging.bad_request(request, exc)
    last = first.replace(day=monthrange(first.year, first.month)[1])
    report = await build_report(ctx.stores, ctx.rules, first, last, uid=uid)
    days = [
        {
            "date": d.day,
            "in": report_rows.hhmm(d.first_in, ctx.zone, d.day),
            "out": report_rows.hhmm(d.last_out, ctx.zone, d.day),
            "worked": format_duration(d.worked.total_seconds()),
            "scheduled": format_duration(d.scheduled.total_seconds()) if d.scheduled else "",
            "flags": d.flags,
        }
        for d in report.days
    ]
    totals = [
        {
            "days": m.days_worked,
            "worked": format_duration(m.worked.total_seconds()),
            "scheduled": format_duration(m.scheduled.total_seconds()),
        }
        for m in report.months
    ]
    audit: list[Any] = []
    audit_next = None
    if roles.allowed(role, "/audit"):
        audit = await ctx.stores.audit.recent(
            target=uid, limit=AUDIT_PAGE + 1, before_id=None if before is None else before[0]
        )
        if len(audit) > AUDIT_PAGE:
            audit = audit[:AUDIT_PAGE]
            audit_next = paging.url_with(request, audit_before=paging.encode_cursor([audit[-1].id]))
    # An erased person's regimes stay in the register; their page shows none.
    regimes = [] if record.erased else await ctx.stores.regimes.history(uid)
    today = datetime.now(ctx.zone).date()
    current = in_force(regimes, today)
    editable = roles.allowed(role, "/people/rename") and not record.erased
    offered = (
        await ctx.stores.people.unknown_swipes(limit=UNKNOWN_OFFERED)
        if editable and record.active
        else []
    )
    return render(
        request,
        "person.html",
        person=record,
        here=person_url(uid),
        editable=editable,
        month=f"{first:%Y-%m}",
        days=days,
        totals=totals,
        timetable=await ctx.stores.timetable.timetable(uid=uid),
        corrections=await ctx.stores.corrections.recent(uid=uid, limit=CORRECTIONS_SHOWN),
        show_audit=roles.allowed(role, "/audit"),
        audit=audit,
        audit_next=audit_next,
        audit_first=paging.url_with(request, audit_before=None) if before else None,
        offered=offered,
        regimes=sorted(regimes, key=lambda r: (r.valid_from, r.id), reverse=True),
        regime_now=None if current is None else current.id,
    )
