"""The working-time register's pages: the overview an inspector lands on (what the
account can read, the seals checked as `register verify` checks them, the chain head)
and the Inspector's export as one zip.

The export is `gateway.reports.export.export_and_record`, the function the CLI's
`register export` calls, with the same writers (gateway.documents): the same files,
the same MANIFEST.sha256, the head copied to the heads log, an audit row. It is
written to a temporary directory, zipped, and the directory removed; nothing of it
stays on the server but the audit row and the head.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import date
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from gateway.documents.export_files import write_documents
from gateway.errors import InvalidInputError
from gateway.reports.export import export_and_record, head_text, zip_export
from gateway.reports.timeparse import parse_date
from gateway.store.seal_check import SEALING_DELAY, verify
from gateway.web.context import actor, admin, ctx_of, render

# What the overview links to (the template shows each only to the roles its page
# allows, roles.ACCESS).
RECORDS = (
    ("/reports", "reports"),
    ("/corrections", "corrections"),
    ("/people", "people"),
    ("/readers", "readers"),
    ("/audit", "audit"),
    ("/register/export", "register_export"),
)


@admin
async def register_page(request: Request) -> Response:
    ctx = ctx_of(request)
    report = await verify(ctx.stores.db)
    return render(
        request,
        "register.html",
        links=RECORDS,
        checked=report,
        head=None if report.head is None else head_text(report.head),
        sealed_at=None if report.head is None else report.head.sealed_at,
        delay=int(SEALING_DELAY.total_seconds()),
        problems=len(report.findings) + report.unlisted,
    )


def _dates(first: str, last: str) -> tuple[date, date]:
    start, end = parse_date(first), parse_date(last)
    if end < start:
        raise InvalidInputError(f"the last day {end} is before the first day {start}")
    return start, end


def _file_name(first: date, last: date, uid: str | None) -> str:
    name = f"register-{first}-{last}" + (f"-{uid}" if uid else "")
    return "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name)


@admin
async def export_page(request: Request) -> Response:
    """The form; with `from` and `to` (and an optional `person`), the zip."""
    ctx = ctx_of(request)
    query = request.query_params
    people = await ctx.stores.people.people()
    if "from" not in query and "to" not in query:
        return render(request, "register_export.html", people=people, first="", last="", uid="")
    uid = query.get("person") or None
    try:
        first, last = _dates(query.get("from", ""), query.get("to", ""))
        if uid is not None and uid not in {p.uid for p in people}:
            raise InvalidInputError(f"no person with uid {uid!r}")
    except InvalidInputError as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    name = _file_name(first, last, uid)
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="clock-gateway-export."))
    try:
        await export_and_record(
            ctx.stores,
            ctx.rules,
            first,
            last,
            scratch / name,
            documents=write_documents,
            actor=actor(request),
            state_dir=ctx.config.state_dir,
            gateway_id=ctx.config.gateway_id,
            uids=[uid] if uid else [],
            worktime_rules=ctx.config.register.worktime,
        )
        body = await asyncio.to_thread(zip_export, scratch / name)
    except InvalidInputError as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
    )
