"""Readers, corrections and the audit log."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import GatewayError, InvalidInputError
from gateway.status import StatusFileError, daemon_state, read_status
from gateway.store import validate
from gateway.store.folding import fold, search_words
from gateway.store.gateways import FleetPage
from gateway.web import paging
from gateway.web.context import actor, admin, ctx_of, form_action

RECENT_DAYS = 31


FLEET_PAGE = 50  # gateways per page of the fleet table


@admin
async def readers_page(request: Request) -> Response:
    """This gateway's readers (from the daemon's status file) and the fleet table, both
    narrowed by ?q= (a reader's name or port, a gateway's id or host name); the fleet
    pages by gateway id (web/paging.py), this gateway's few readers need no pages."""
    ctx = ctx_of(request)
    try:
        text = paging.search_text(request)
        after = paging.decode_cursor(request.query_params.get("after"), (str,))
    except InvalidInputError as exc:
        return paging.bad_request(request, exc)
    try:
        snapshot = await asyncio.to_thread(read_status, ctx.config.state_dir)
        problem = None
    except StatusFileError as exc:
        snapshot, problem = None, str(exc)
    state = daemon_state(snapshot) if snapshot is not None else None
    words = [fold(w) for w in search_words(text)]
    readers = [
        r
        for r in (snapshot.readers if snapshot is not None else ())
        if all(w in fold(f"{r.name} {r.port}") for w in words)
    ]
    fleet = await _gateways(request, text, after[0] if after else None)
    return paging.list_page(
        request,
        "readers.html",
        "readers_rows.html",
        q=text,
        snapshot=snapshot,
        readers=readers,
        state=None if state is None else str(state),
        problem=problem,
        gateways=fleet.rows,
        next_url=paging.url_with(request, after=paging.encode_cursor([fleet.after]))
        if fleet.after
        else None,
        first_url=paging.url_with(request) if after else None,
    )


async def _gateways(request: Request, text: str, after: str | None) -> FleetPage:
    """A page of the fleet table, by id; empty when it cannot be read (the page still
    shows this gateway's own readers)."""
    try:
        return await ctx_of(request).stores.gateways.page(text, after=after, limit=FLEET_PAGE)
    except GatewayError:
        return FleetPage([], None)


CORRECTIONS_PAGE = 100
CORRECTION_KINDS = ("add", "void")


@admin
async def corrections_page(request: Request) -> Response:
    """The corrections, newest first, of one person (?uid=) or everyone, of one kind,
    with words (?q=) in the name, uid or reason, paged by id (web/paging.py). The
    person is a uid typed or linked from their page: a list of every person was 2,000
    options, twice."""
    ctx = ctx_of(request)
    uid = request.query_params.get("uid", "").strip() or None
    try:
        uid = validate.uid(uid) if uid else None
        text = paging.search_text(request)
        kind = paging.choice(request, "kind", CORRECTION_KINDS)
        after = paging.decode_cursor(request.query_params.get("after"), (int,))
    except InvalidInputError as exc:
        return paging.bad_request(request, exc)
    person = await ctx.stores.people.person(uid) if uid else None
    events = []
    if person is not None:
        now = datetime.now(UTC)
        events = [
            e
            async for e in ctx.stores.events.events_between(
                now - timedelta(days=RECENT_DAYS), now + timedelta(minutes=1), person.uid
            )
        ]
        events.reverse()
    listed = await ctx.stores.corrections.recent(
        uid=uid,
        kind=kind,
        text=text,
        limit=CORRECTIONS_PAGE + 1,
        before_id=after[0] if after else None,
    )
    more, listed = len(listed) > CORRECTIONS_PAGE, listed[:CORRECTIONS_PAGE]
    # Voided, or a void waiting for agreement: not offered again (a rejected one is).
    voided = {
        c.event_id
        for c in listed
        if c.kind == "void" and c.state in ("legacy", "pending", "accepted")
    }
    today = datetime.now(ctx.zone).date()
    return paging.list_page(
        request,
        "corrections.html",
        "corrections_rows.html",
        uid=uid,
        person=person,
        q=text,
        kind=kind or "",
        kinds=CORRECTION_KINDS,
        events=events,
        voided=voided,
        corrections=listed,
        names=await ctx.stores.people.names([c.person_uid for c in listed]),
        today=today.isoformat(),
        next_url=paging.url_with(request, after=paging.encode_cursor([listed[-1].id]))
        if more
        else None,
        first_url=paging.url_with(request) if after else None,
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


# The audit log's filter: a family of actions (the part before the dot).
AUDIT_FAMILIES = (
    "person.",
    "card.",
    "correction.",
    "account.",
    "login.",
    "access.",
    "register.",
    "timetable.",
)
AUDIT_PAGE = 100


def _target(request: Request) -> str | None:
    """?target=: the rows about exactly this (a uid, a card, a path), or None."""
    target = request.query_params.get("target", "").strip()
    if len(target) > paging.MAX_QUERY or any(unicodedata.category(c)[0] == "C" for c in target):
        raise InvalidInputError("bad target: a uid, a card or a path")
    return target or None


@admin
async def audit_page(request: Request) -> Response:
    """Find, filter, page (web/paging.py): words in actor, action or target, a family
    of actions, one target exactly (?target=, a person's page links here; an index of
    schema v6 serves it), pages by id (?after=<cursor>; the older ?before=<id> links still work,
    a bad one meaning the first page as before)."""
    try:
        text = paging.search_text(request)
        target = _target(request)
        family = paging.choice(request, "action", AUDIT_FAMILIES)
        after = paging.decode_cursor(request.query_params.get("after"), (int,))
    except InvalidInputError as exc:
        return paging.bad_request(request, exc)
    before_id = after[0] if after else None
    if before_id is None and (before := request.query_params.get("before")):
        before_id = row_id(before)
    rows = await ctx_of(request).stores.audit.recent(
        limit=AUDIT_PAGE + 1, before_id=before_id, action=family, text=text, target=target
    )
    more, rows = len(rows) > AUDIT_PAGE, rows[:AUDIT_PAGE]
    return paging.list_page(
        request,
        "audit.html",
        "audit_rows.html",
        rows=rows,
        q=text,
        target=target or "",
        action=family or "",
        families=AUDIT_FAMILIES,
        next_url=paging.url_with(request, after=paging.encode_cursor([rows[-1].id]), before=None)
        if more
        else None,
        first_url=paging.url_with(request, before=None) if before_id else None,
    )
