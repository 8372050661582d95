"""Uploads for hr and admin: a people file or a timetable, then its preview, then a
confirm that writes it in one transaction with its audit row.

- The body arrives through limits.BodyLimit's streamed path: counted, timed, its
  file spooled by the form parser to the web's own temporary folder (never the
  state directory); over [web] upload_max_bytes it is a 413 page.
- The file is copied once to a private temporary file (its sha256 computed on the
  way), read and checked whole by gateway.importing.uploaded, with the CLI's own
  checks; a file with problems shows every one, with its row and column, and no
  confirm.
- A clean file's plan stays in this process's memory under a random token, for
  the account that uploaded it, for [web] upload_preview_minutes; the confirm
  names the token and the file's sha256, takes the plan out (once: a second
  confirm finds nothing) and applies exactly it. A web restart forgets the
  previews: upload again.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import ConflictError, DatabaseUnavailableError, GatewayError
from gateway.importing import uploaded
from gateway.logs import get_logger
from gateway.web import auth
from gateway.web.context import actor, admin, ctx_of, flash, redirect, render
from gateway.web.i18n import translator

log = get_logger("web")

KINDS = {"people": "/uploads/people", "timetable": "/uploads/timetable"}
FIRST_ROWS = 20  # rows of each kind shown on the preview
MAX_PENDING = 32  # previews kept at once (the oldest go first)
_CHUNK = 64 * 1024

Plan = uploaded.PeoplePlan | uploaded.TimetableUpload


@dataclass(frozen=True)
class Pending:
    kind: str
    username: str
    filename: str
    sha256: str
    size: int
    plan: Plan
    expires: float  # monotonic seconds


class PendingUploads:
    """Previews waiting for their confirm: token -> Pending, each taken at most once."""

    def __init__(self, lifetime_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._items: dict[str, Pending] = {}

    def put(
        self, kind: str, username: str, filename: str, sha256: str, size: int, plan: Plan
    ) -> str:
        now = self._clock()
        for token in [t for t, p in self._items.items() if p.expires <= now]:
            del self._items[token]
        while len(self._items) >= MAX_PENDING:
            del self._items[next(iter(self._items))]  # dicts keep insertion order
        token = secrets.token_urlsafe(24)
        self._items[token] = Pending(
            kind, username, filename, sha256, size, plan, now + self.lifetime_s
        )
        return token

    def take(self, token: str, kind: str, username: str, sha256: str) -> Pending | None:
        """The preview this confirm names, removed; None when it is unknown, used,
        expired, another account's, of another kind or of another file."""
        pending = self._items.get(token)
        if pending is None or (pending.kind, pending.username) != (kind, username):
            return None
        del self._items[token]
        if pending.expires <= self._clock() or not secrets.compare_digest(pending.sha256, sha256):
            return None
        return pending

    def __len__(self) -> int:
        return len(self._items)


def pending_of(request: Request) -> PendingUploads:
    state = request.app.state
    found: PendingUploads | None = getattr(state, "pending_uploads", None)
    if found is None:
        minutes = ctx_of(request).config.web.uploads.preview_minutes
        found = state.pending_uploads = PendingUploads(minutes * 60)
    return found


def _username(request: Request) -> str:
    account = auth.of(request)
    return account.username if account else ""


@dataclass(frozen=True)
class Received:
    filename: str  # as the browser named it, without folders
    sha256: str
    size: int


async def _save(file: UploadFile, suffix: str, into: Any) -> Received:
    """Copy the uploaded file to `into` (a private temporary file), hashing it."""
    digest = hashlib.sha256()
    size = 0
    while chunk := await file.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        into.write(chunk)
    into.flush()
    name = Path((file.filename or "").replace("\\", "/")).name[:200] or f"upload{suffix}"
    return Received(name, digest.hexdigest(), size)


def _page(request: Request, kind: str, status: int = 200, **values: Any) -> Response:
    values.setdefault("problems", [])
    values.setdefault("received", None)
    return render(
        request,
        "upload.html",
        status,
        kind=kind,
        action=KINDS[kind],
        max_mb=f"{ctx_of(request).config.web.uploads.max_bytes / 2**20:.3g}",
        max_rows=ctx_of(request).config.web.uploads.max_rows,
        **values,
    )


async def _upload(
    request: Request,
    kind: str,
    planner: Callable[[Path], Awaitable[Plan]],
) -> Response:
    if request.method == "GET":
        return _page(request, kind)
    form = await request.form()
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            flash(request, "upload_no_file", error=True)
            return redirect(KINDS[kind])
        try:
            suffix = uploaded.check_suffix(file.filename)
        except GatewayError as exc:
            problems = [uploaded.whole_file(exc.message)]
            return _page(request, kind, 400, problems=problems, received=None)
        # Named after nothing the browser chose; in the web's own temporary folder
        # (tempfile.tempdir, set by server.py from [web] temp_dir).
        with tempfile.NamedTemporaryFile(prefix="upload-", suffix=suffix) as copy:
            received = await _save(file, suffix, copy)
            try:
                plan = await planner(Path(copy.name))
            except DatabaseUnavailableError:
                raise
            except GatewayError as exc:  # the file as a whole: unreadable, empty...
                message = exc.message.replace(copy.name, received.filename)
                problems = [uploaded.whole_file(message)]
                return _page(request, kind, 400, problems=problems, received=received)
    finally:
        await form.close()
    if plan.problems:
        log.info("web_upload_refused", kind=kind, problems=len(plan.problems))
        return _page(request, kind, 400, problems=plan.problems, received=received)
    token = pending_of(request).put(
        kind, _username(request), received.filename, received.sha256, received.size, plan
    )
    return render(
        request,
        "upload_preview.html",
        kind=kind,
        action=KINDS[kind],
        token=token,
        received=received,
        plan=plan,
        counts=plan.counts(),
        first=FIRST_ROWS,
        minutes=f"{ctx_of(request).config.web.uploads.preview_minutes:g}",
    )


async def _confirm(request: Request, kind: str, back: str) -> Response:
    form = await request.form()
    token, sha256 = str(form.get("token", "")), str(form.get("sha256", ""))
    pending = pending_of(request).take(token, kind, _username(request), sha256)
    if pending is None:
        log.warning("web_upload_confirm_refused", kind=kind)
        return render(request, "upload_stale.html", 409, kind=kind, action=KINDS[kind])
    counts = pending.plan.counts()
    note = uploaded.audit_note(
        actor(request),
        f"{kind}.upload",
        {"file": pending.filename, "sha256": pending.sha256, "bytes": pending.size, **counts},
    )
    stores = ctx_of(request).stores
    try:
        if isinstance(pending.plan, uploaded.PeoplePlan):
            await uploaded.apply_people(stores, pending.plan, note)
        else:
            await uploaded.apply_timetable(stores, pending.plan, note)
    except ConflictError as exc:
        return render(
            request, "upload_stale.html", 409, kind=kind, action=KINDS[kind], reason=exc.message
        )
    log.info("web_upload_applied", kind=kind, sha256=pending.sha256, **counts)
    ctx_of(request).hub.poke()
    t = translator(ctx_of(request).locale)
    summary = ", ".join(f"{t('count.' + key)}: {value}" for key, value in counts.items())
    flash(request, f"{pending.filename}: {summary}")
    return redirect(back)


@admin
async def people_upload(request: Request) -> Response:
    rows = ctx_of(request).config.web.uploads.max_rows

    async def plan(path: Path) -> Plan:
        return await uploaded.plan_people(ctx_of(request).stores, path, max_rows=rows)

    return await _upload(request, "people", plan)


@admin
async def timetable_upload(request: Request) -> Response:
    rows = ctx_of(request).config.web.uploads.max_rows
    create = False
    if request.method == "POST":
        create = (await request.form()).get("create_people") == "1"

    async def plan(path: Path) -> Plan:
        return await uploaded.plan_timetable_upload(
            ctx_of(request).stores, path, create_people=create, max_rows=rows
        )

    return await _upload(request, "timetable", plan)


@admin
async def people_confirm(request: Request) -> Response:
    return await _confirm(request, "people", "/people")


@admin
async def timetable_confirm(request: Request) -> Response:
    return await _confirm(request, "timetable", "/people")
