"""GET /register/monthly (issue 22 item 7, the `hr` page): the monthly summaries of a
month, everyone's or one person's, as one zip of the PDFs and xlsx files that
`clock-gateway register monthly` writes (gateway/reports/monthly_files.py, shared).

Without `month` the page shows the form; with it the zip comes back. A bad month or a
uid nobody has is a 400 page with one line. Every download is audited (who, month,
person): a summary is a copy of a worker's register leaving the system.

Who (roles.py): admin, hr, and the inspector, who by issue 21 reads every record and
exports the register (ET art. 34.9 puts the register at the Labour Inspectorate's
disposal), and a summary is that register cut by worker and month. A representative
sees monthly totals without the daily detail, which a summary has: refused.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from gateway.documents.export_files import write_xlsx
from gateway.errors import InvalidInputError, NotFoundError
from gateway.reports.monthly import month_range, monthly_summaries
from gateway.reports.monthly_files import zip_summaries
from gateway.web.context import actor, admin, ctx_of, render


@admin
async def monthly_page(request: Request) -> Response:
    ctx = ctx_of(request)
    month = request.query_params.get("month")
    uid = (request.query_params.get("uid") or "").strip()
    if month is None:
        # The form offers last month: the summaries go out with its payslips.
        last = datetime.now(ctx.zone).date().replace(day=1) - timedelta(days=1)
        people = await ctx.stores.people.people()
        return render(
            request, "register_monthly.html", people=people, uid=uid, month=f"{last:%Y-%m}"
        )
    try:
        month = month.strip()
        month_range(month)
        summaries = await monthly_summaries(
            ctx.stores, ctx.rules, ctx.config.register.worktime, month, [uid] if uid else []
        )
    except (InvalidInputError, NotFoundError) as exc:
        return render(request, "message.html", 400, title="400", text=str(exc))
    with tempfile.TemporaryDirectory(prefix="clock-gateway-monthly-") as scratch:
        body = await asyncio.to_thread(zip_summaries, Path(scratch), summaries, write_xlsx)
    await ctx.stores.audit.record(
        actor(request),
        "register.monthly",
        uid or None,
        {"month": month, "person": uid or None, "workers": len(summaries)},
    )
    name = f"monthly-{month}" + (f"-{summaries[0].file_stem}" if uid and summaries else "")
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
    )
