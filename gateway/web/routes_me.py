"""The worker's own record (issue 22 item 6): /me and what hangs under it.

Every handler here reads and changes one person's data only: the person the signed-in
worker's account is linked to (accounts.person_uid), taken from the session and never
from the request. A request that names anyone else (a `uid` in the address or the
form, the id of somebody else's correction) is refused with 403 and the refusal is
audited, like a role refused by roles.guard; it reveals nothing about the other
person (the same answer whether the id exists or not).
"""

from __future__ import annotations

import asyncio
import io
from calendar import monthrange
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response

from gateway.csvout import csv_writer, neutralise
from gateway.errors import (
    DatabaseUnavailableError,
    GatewayError,
    InvalidInputError,
    NotFoundError,
)
from gateway.reports import corrections as applied
from gateway.reports.export import (
    CORRECTION_COLUMNS,
    DAY_COLUMNS,
    STEP_COLUMNS,
    correction_rows,
    day_rows,
    hours,
    pauses,
    step_rows,
)
from gateway.reports.monthly import month_range, monthly_summaries
from gateway.reports.monthly_files import pdf_bytes
from gateway.reports.render import hhmm
from gateway.reports.service import build_report, local_midnight
from gateway.reports.worktime_service import build_worktime
from gateway.store.correction_steps import Decision
from gateway.store.corrections import CorrectionRow
from gateway.web import auth, security
from gateway.web.context import actor, admin, client_address, ctx_of, flash, redirect, render
from gateway.web.routes_admin import row_id

MAX_DOWNLOAD_DAYS = 4 * 366 + 1  # the legal retention: a worker may take it all
MAX_PASSWORD = 1024


class Refused(Exception):
    """The request named another person's data."""


def own_uid(request: Request) -> str:
    account = auth.of(request)
    if account is None or account.person_uid is None:
        raise Refused("no person linked to this account")
    return account.person_uid


async def refuse(request: Request, what: str, details: dict[str, object]) -> Response:
    """403, audited as the guard audits a refused role."""
    account = auth.of(request)
    await ctx_of(request).stores.audit.record(
        actor(request),
        "access.refused",
        request.url.path,
        {
            "role": account.role if account else None,
            "method": request.method,
            "why": what,
            **details,
        },
    )
    return render(request, "message.html", 403, title="403", text="forbidden")


def worker_page(
    handler: Callable[[Request, str], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A /me handler given the worker's own uid; a `uid` naming anyone else refused."""

    @admin
    async def wrapped(request: Request) -> Response:
        try:
            uid = own_uid(request)
        except Refused as exc:
            return await refuse(request, str(exc), {})
        named = request.query_params.get("uid")
        if request.method == "POST":
            named = named or str((await request.form()).get("uid", "")) or None
        if named is not None and named != uid:
            return await refuse(request, "another person", {"uid": named[:64]})
        try:
            return await handler(request, uid)
        except Refused as exc:
            return await refuse(request, "another person's correction", {"id": str(exc)})

    wrapped.__name__ = handler.__name__
    return wrapped


def _month(value: str | None, today: date) -> date:
    if not value:
        return today.replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise InvalidInputError(f"bad month {value!r}: use YYYY-MM") from None


@worker_page
async def me_page(request: Request, uid: str) -> Response:
    ctx = ctx_of(request)
    today = datetime.now(ctx.zone).date()
    try:
        first = _month(request.query_params.get("month"), today)
    except InvalidInputError as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    last = first.replace(day=monthrange(first.year, first.month)[1])
    report = await build_report(ctx.stores, ctx.rules, first, last, uid=uid)
    # Net time, hour classes and the limits' flags: the working-time rules'
    # (gateway/reports/worktime.py), per working day; the report's own flags beside.
    counted = await build_worktime(
        ctx.stores, ctx.rules, ctx.config.register.worktime, first, last, uid=uid
    )
    person = counted.people.get(uid)
    work = {d.day: d for d in person.days} if person else {}
    start = local_midnight(first, ctx.rules)
    end = local_midnight(last + timedelta(days=1), ctx.rules)
    touching = await ctx.stores.corrections.affecting(start, end, uid)
    waiting_days = {day for _uid, day in applied.pending_days(touching, ctx.zone)}
    days = []
    for d in report.days:
        if not (d.sessions or d.first_in or d.last_out or d.flags or d.day in waiting_days):
            continue
        w = work.get(d.day)
        extra = {"kind": w.extra_kind, "time": hours(w.extra)} if w and w.extra else None
        flags = d.flags + [f for f in (w.flags if w else ()) if f not in d.flags]
        days.append(
            {
                "date": d.day,
                "in": hhmm(d.first_in, ctx.zone, d.day),
                "out": hhmm(d.last_out, ctx.zone, d.day),
                "pauses": [p[-11:] for p in pauses(d, ctx.rules)],
                "worked": hours(w.net if w else d.worked),
                "extra": extra,
                "flags": flags + (["pending"] if d.day in waiting_days else []),
            }
        )
    total = report.months[0] if report.months else None
    summary = person.months[0] if person and person.months else None
    pending = await ctx.stores.corrections.pending(uid=uid)
    recent = [c for c in await ctx.stores.corrections.recent(uid=uid, limit=30) if c.steps]
    return render(
        request,
        "me.html",
        name=report.names.get(uid, uid),
        month=f"{first:%Y-%m}",
        days=days,
        total=hours(total.worked) if total else "0:00",
        days_worked=total.days_worked if total else 0,
        classes=None
        if summary is None
        else {
            "ordinary": hours(summary.ordinary),
            "overtime": hours(summary.overtime),
            "complementary": hours(summary.complementary),
        },
        for_me=[c for c in pending if c.waits_for == "worker"],
        mine=[c for c in pending if c.waits_for == "company"],
        recent=[c for c in recent if c.state != "pending"],
        today=today.isoformat(),
        first=first.isoformat(),
        last=min(last, today).isoformat(),
    )


async def _act(request: Request, action: Callable[[], Awaitable[str]]) -> Response:
    """A change from a /me form: its message, or the one-line refusal; back to /me."""
    try:
        flash(request, await action())
    except (DatabaseUnavailableError, Refused):
        raise
    except GatewayError as exc:
        flash(request, str(exc), error=True)
    ctx_of(request).hub.poke()
    return redirect("/me")


def _local(day: str, clock: str, request: Request) -> datetime:
    try:
        moment = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock))
    except ValueError:
        raise InvalidInputError(f"bad date or time: {day!r} {clock!r}") from None
    return moment.replace(tzinfo=ctx_of(request).zone)


@worker_page
async def request_missing(request: Request, uid: str) -> Response:
    form = await request.form()

    async def act() -> str:
        at = _local(str(form.get("date", "")), str(form.get("time", "")), request)
        await ctx_of(request).stores.corrections.add_missing(
            uid,
            str(form.get("direction", "")),
            at,
            str(form.get("note", "")),
            actor(request),
            side="worker",
        )
        return "request_sent"

    return await _act(request, act)


async def _decide(request: Request, uid: str, decision: Decision, done: str) -> Response:
    form = await request.form()
    raw = str(form.get("id", ""))

    async def act() -> str:
        correction_id = row_id(raw)
        if correction_id is None:
            raise InvalidInputError("bad correction id")
        try:
            await ctx_of(request).stores.corrections.decide(
                correction_id,
                decision,
                actor(request),
                side="worker",
                person_uid=uid,
                note=str(form.get("note", "")),
            )
        except NotFoundError:  # NotYoursError too: the same answer either way
            raise Refused(str(correction_id)) from None
        return done

    return await _act(request, act)


@worker_page
async def accept(request: Request, uid: str) -> Response:
    return await _decide(request, uid, "accepted", "accepted_msg")


@worker_page
async def reject(request: Request, uid: str) -> Response:
    return await _decide(request, uid, "rejected", "rejected_msg")


@worker_page
async def withdraw(request: Request, uid: str) -> Response:
    return await _decide(request, uid, "withdrawn", "withdrawn_msg")


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[neutralise(v) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _range(request: Request) -> tuple[date, date]:
    today = datetime.now(ctx_of(request).zone).date()
    try:
        first = date.fromisoformat(request.query_params.get("from") or f"{today:%Y-%m}-01")
        last = date.fromisoformat(request.query_params.get("to") or today.isoformat())
    except ValueError:
        raise InvalidInputError("bad date: use YYYY-MM-DD") from None
    if last < first:
        raise InvalidInputError(f"{last} is before {first}")
    if (last - first).days > MAX_DOWNLOAD_DAYS:
        raise InvalidInputError("at most four years at a time")
    return first, last


@worker_page
async def download(request: Request, uid: str) -> Response:
    """The worker's own register over any period: the days, or the corrections with
    their whole trail (the export's own columns, gateway/reports/export.py)."""
    ctx = ctx_of(request)
    what = request.query_params.get("what", "days")
    if what == "summary":
        return await _summary(request, uid)
    try:
        first, last = _range(request)
    except InvalidInputError as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    if what == "corrections":
        start = local_midnight(first, ctx.rules)
        end = local_midnight(last + timedelta(days=1), ctx.rules)
        fixes: list[CorrectionRow] = await ctx.stores.corrections.affecting(start, end, uid)
        names = {uid: next((p.name for p in await ctx.stores.people.people() if p.uid == uid), "")}
        rows = correction_rows(fixes, names, ctx.rules)
        trail = step_rows(fixes, ctx.rules)
        body = _csv(CORRECTION_COLUMNS, rows) + b"\r\n" + _csv(STEP_COLUMNS, trail)[3:]
    else:
        report = await build_report(ctx.stores, ctx.rules, first, last, uid=uid)
        body = await asyncio.to_thread(_csv, DAY_COLUMNS, day_rows(report))
        what = "days"
    safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in uid)
    name = f"register-{safe}-{first}-{last}-{what}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _summary(request: Request, uid: str) -> Response:
    """The worker's own monthly summary as the PDF hr hands out with the payslip
    (gateway/reports/monthly_files.py, the writer `register monthly` uses)."""
    ctx = ctx_of(request)
    month = (request.query_params.get("month") or "").strip()
    try:
        month_range(month)
        summaries = await monthly_summaries(
            ctx.stores, ctx.rules, ctx.config.register.worktime, month, [uid]
        )
    except (InvalidInputError, NotFoundError) as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    body = await asyncio.to_thread(pdf_bytes, summaries[0])
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{summaries[0].file_stem}.pdf"'},
    )


@admin
async def password_page(request: Request) -> Response:
    """Choose a password: at the first sign-in with a one-time code, and any time after.
    A new password ends every session of the account; this browser signs in again."""
    account = auth.of(request)
    assert account is not None  # @admin
    if request.method == "GET":
        return render(request, "me_password.html", n=security.MIN_PASSWORD)
    ctx = ctx_of(request)
    form = await request.form()
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    if password != str(form.get("again", ""))[:MAX_PASSWORD]:
        flash(request, "passwords_differ", error=True)
        return redirect("/me/password")
    try:
        hashed = await asyncio.to_thread(security.hash_password, password)
    except InvalidInputError as exc:
        flash(request, str(exc), error=True)
        return redirect("/me/password")
    await ctx.stores.accounts.set_password(account.username, hashed, actor(request))
    found = await ctx.stores.accounts.credentials(account.username)
    if found is None:  # removed meanwhile
        return redirect("/login")
    await auth.sign_in(request, found, client_address(request))
    flash(request, "password_set")
    return redirect("/me" if found.role == "worker" else "/")
