"""Readers, corrections and the audit log."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import GatewayError, InvalidInputError
from gateway.status import StatusFileError, daemon_state, read_status
from gateway.store.gateways import GatewayRow
from gateway.web.context import actor, admin, ctx_of, form_action, render

RECENT_DAYS = 31


@admin
async def readers_page(request: Request) -> Response:
    ctx = ctx_of(request)
    try:
        snapshot = await asyncio.to_thread(read_status, ctx.config.state_dir)
        problem = None
    except StatusFileError as exc:
        snapshot, problem = None, str(exc)
    state = daemon_state(snapshot) if snapshot is not None else None
    return render(
        request,
        "readers.html",
        snapshot=snapshot,
        state=None if state is None else str(state),
        problem=problem,
        gateways=await _gateways(request),
    )


async def _gateways(request: Request) -> list[GatewayRow]:
    """The fleet table, one row per gateway by id; [] when it cannot be read (the page
    still shows this gateway's own readers)."""
    try:
        return await ctx_of(request).stores.gateways.all()
    except GatewayError:
        return []


@admin
async def corrections_page(request: Request) -> Response:
    ctx = ctx_of(request)
    uid = request.query_params.get("uid") or None
    people = [p for p in await ctx.stores.people.people() if p.active or p.uid == uid]
    events = []
    if uid:
        now = datetime.now(UTC)
        events = [
            e
            async for e in ctx.stores.events.events_between(
                now - timedelta(days=RECENT_DAYS), now + timedelta(minutes=1), uid
            )
        ]
        events.reverse()
    listed = await ctx.stores.corrections.recent(uid=uid, limit=200)
    # Voided, or a void waiting for agreement: not offered again (a rejected one is).
    voided = {
        c.event_id
        for c in listed
        if c.kind == "void" and c.state in ("legacy", "pending", "accepted")
    }
    today = datetime.now(ctx.zone).date()
    return render(
        request,
        "corrections.html",
        people=people,
        names={p.uid: p.name for p in people},
        uid=uid,
        events=events,
        voided=voided,
        corrections=listed,
        today=today.isoformat(),
    )


def _local_instant(day: str, clock: str, request: Request) -> datetime:
    try:
        moment = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock))
    except ValueError:
        raise InvalidInputError(f"bad date or time: {day!r} {clock!r}") from None
    return moment.replace(tzinfo=ctx_of(request).zone)


@admin
async def add_correction(request: Request) -> Response:
    form = await request.form()
    uid = str(form.get("uid", ""))

    async def act() -> str:
        at = _local_instant(str(form.get("date", "")), str(form.get("time", "")), request)
        new = await ctx_of(request).stores.corrections.add_missing(
            uid, str(form.get("direction", "")), at, str(form.get("reason", "")), actor(request)
        )
        return f"#{new}"

    return await form_action(request, f"/corrections?uid={uid}", act)


MAX_ROW_ID = 2**63 - 1  # the largest id a bigint (PostgreSQL) or INTEGER (SQLite) holds


def row_id(text: str) -> int | None:
    """A row id from a URL or form, or None.

    str.isdigit() accepts '²' and int() accepts '١٢': both, and a 5,000-digit
    number (int() refuses it; a bigint cannot hold it), used to reach the database
    and come back as a 500.
    """
    text = text.strip()
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None


@admin
async def void_event(request: Request) -> Response:
    form = await request.form()
    uid = str(form.get("uid", ""))

    async def act() -> str:
        event_id = row_id(str(form.get("event_id", "")))
        if event_id is None:
            raise InvalidInputError("bad event id")
        new = await ctx_of(request).stores.corrections.void(
            event_id, str(form.get("reason", "")), actor(request)
        )
        return f"#{new}"

    return await form_action(request, f"/corrections?uid={uid}", act)


@admin
async def audit_page(request: Request) -> Response:
    before = request.query_params.get("before")
    before_id = row_id(before) if before else None  # a bad value is ignored: the first page
    rows = await ctx_of(request).stores.audit.recent(limit=100, before_id=before_id)
    return render(request, "audit.html", rows=rows, more=rows[-1].id if len(rows) == 100 else None)
