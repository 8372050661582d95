"""The Starlette application: routes, sessions, security headers, and its lifespan
(open the stores, start the live hub and the database watcher; close them)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import Config
from gateway.errors import DatabaseUnavailableError, GatewayError
from gateway.reports.rules import Rules
from gateway.store.engine import sqlite_path
from gateway.store.stores import Stores
from gateway.web import (
    limits,
    roles,
    routes_accounts,
    routes_admin,
    routes_agreements,
    routes_me,
    routes_monthly,
    routes_open_days,
    routes_people,
    routes_person,
    routes_public,
    routes_regime,
    routes_register,
    routes_reports,
    routes_unknown,
    routes_uploads,
    routes_workers,
    security,
)
from gateway.web.board import LiveBoard
from gateway.web.context import HERE, WebContext, log, render
from gateway.web.live import PG_CHANNELS, Hub, listening_watcher, sqlite_watcher

# Nothing from elsewhere: no CDN, no inline script, no framing; the board token must
# not leak to other sites through the Referer header.
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def _watcher(stores: Stores, hub: Hub) -> Any:
    db = stores.db
    if db.dialect == "sqlite":
        path = sqlite_path(db.sa_url)
        return None if path is None else sqlite_watcher(path, hub)
    return listening_watcher(
        lambda on_change: db.listener(PG_CHANNELS, on_change, name="live"), hub
    )


async def _unknown_state(stores: Stores) -> dict[str, str]:
    return {"state": await stores.people.unknown_state()}


def create_app(
    config: Config, *, stores: Stores | None = None, secret: str | None = None
) -> Starlette:
    """The application for this configuration. With `stores` (already checked) it
    uses them and leaves them open; else it opens the database at startup."""
    key = secret or security.load_or_create_secret(config.session_secret_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = stores is None
        db_stores = stores or await Stores.open_checked(config.database)
        hub = Hub()
        rules = Rules.from_config(config)
        ctx = WebContext(
            config=config, stores=db_stores, hub=hub, rules=rules, locale=config.locale
        )
        mode = config.web.board
        board = LiveBoard(db_stores, rules, mode)
        hub.topic("board", board, board.invalidate, deltas=True)
        # A fingerprint of the unknown cards: each page fetches its own page of them
        # when it moves (routes_unknown.py).
        hub.topic("unknown", lambda: _unknown_state(db_stores))
        hub.start(_watcher(db_stores, hub))
        ctx.env.globals.update(nav=roles.NAV, allowed=roles.allowed)
        app.state.ctx = ctx
        log.info("web_ready", database=db_stores.db.url)
        try:
            yield
        finally:
            await hub.stop()
            if owned:
                await db_stores.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", 404, title="404", text="not_found")

    async def failed(request: Request, exc: Exception) -> Response:
        # The last line of defence: one line for people, the details in the log.
        if limits.is_resource_error(exc):  # out of descriptors: once per interval
            limits.note_resource_error(request.url.path, exc)
            return Response("busy: try again\n", status_code=503, media_type="text/plain")
        if isinstance(exc, DatabaseUnavailableError):  # its text names host and user
            log.warning("web_database_unavailable", path=request.url.path, error=str(exc))
            return render(request, "message.html", 503, title="503", text="database_unavailable")
        if isinstance(exc, GatewayError):
            return render(request, "message.html", 400, title="400", text=str(exc))
        log.error("web_internal_error", path=request.url.path, exc_info=exc)
        return render(request, "message.html", 500, title="500", text="error")

    endpoints: list[tuple[str, Any, list[str]]] = [
        ("/", routes_public.board, ["GET"]),
        ("/events", routes_public.board_events, ["GET"]),
        ("/login", routes_public.login, ["GET", "POST"]),
        ("/logout", routes_public.logout, ["POST"]),
        ("/people", routes_people.people_page, ["GET"]),
        ("/people/add", routes_people.add_person, ["POST"]),
        ("/people/rename", routes_people.rename_person, ["POST"]),
        ("/people/active", routes_people.set_active, ["POST"]),
        ("/people/erase", routes_people.erase_person, ["POST"]),
        ("/people/regime", routes_regime.set_regime, ["POST"]),
        ("/cards/assign", routes_people.assign_card, ["POST"]),
        ("/cards/revoke", routes_people.revoke_card, ["POST"]),
        ("/cards/unknown", routes_unknown.unknown_page, ["GET"]),
        # Not under /people/: every path there is a person's page (a uid may be "live").
        ("/cards/unknown/events", routes_unknown.unknown_events, ["GET"]),
        # After every /people/... route above, all of them POST only (so a GET of
        # /people/add is the page of a person whose uid is "add"): a person's page
        # takes every GET under /people/.
        ("/people/{uid:path}", routes_person.person_page, ["GET"]),
        ("/readers", routes_admin.readers_page, ["GET"]),
        ("/corrections", routes_admin.corrections_page, ["GET"]),
        ("/corrections/add", routes_admin.add_correction, ["POST"]),
        ("/corrections/void", routes_admin.void_event, ["POST"]),
        ("/corrections/accept", routes_agreements.accept, ["POST"]),
        ("/corrections/reject", routes_agreements.reject, ["POST"]),
        ("/corrections/withdraw", routes_agreements.withdraw, ["POST"]),
        ("/open-days", routes_open_days.open_days_page, ["GET"]),
        ("/workers", routes_workers.workers_page, ["GET"]),
        ("/workers/add", routes_workers.add_worker, ["POST"]),
        ("/workers/code", routes_workers.new_code, ["POST"]),
        ("/me", routes_me.me_page, ["GET"]),
        ("/me/request", routes_me.request_missing, ["POST"]),
        ("/me/accept", routes_me.accept, ["POST"]),
        ("/me/reject", routes_me.reject, ["POST"]),
        ("/me/withdraw", routes_me.withdraw, ["POST"]),
        ("/me/download", routes_me.download, ["GET"]),
        ("/me/password", routes_me.password_page, ["GET", "POST"]),
        ("/audit", routes_admin.audit_page, ["GET"]),
        ("/reports", routes_reports.reports_page, ["GET"]),
        ("/reports/download", routes_reports.reports_download, ["GET"]),
        ("/register/monthly", routes_monthly.monthly_page, ["GET"]),
        ("/totals", routes_reports.totals_page, ["GET"]),
        ("/register", routes_register.register_page, ["GET"]),
        ("/register/export", routes_register.export_page, ["GET"]),
        ("/accounts", routes_accounts.accounts_page, ["GET"]),
        ("/accounts/add", routes_accounts.add_account, ["POST"]),
        ("/accounts/role", routes_accounts.change_role, ["POST"]),
        ("/accounts/remove", routes_accounts.remove_account, ["POST"]),
        ("/uploads/people", routes_uploads.people_upload, ["GET", "POST"]),
        ("/uploads/people/confirm", routes_uploads.people_confirm, ["POST"]),
        ("/uploads/timetable", routes_uploads.timetable_upload, ["GET", "POST"]),
        ("/uploads/timetable/confirm", routes_uploads.timetable_confirm, ["POST"]),
    ]
    # Every route behind roles.py's table: who may, CSRF, the database's absence.
    routes: list[Route | Mount] = [
        Route(path, roles.guard(path, endpoint), methods=methods)
        for path, endpoint, methods in endpoints
    ]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(limits.AddressGuard, per_address=config.web.max_connections_per_address),
        Middleware(
            limits.BodyLimit,
            timeout_s=config.web.body_timeout_s,
            upload_bytes=config.web.uploads.max_bytes,
            upload_timeout_s=config.web.uploads.timeout_s,
        ),
        Middleware(
            SessionMiddleware,
            secret_key=key,
            session_cookie="clock_gateway_session",
            max_age=int(config.web.session_hours * 3600),
            same_site="strict",
            https_only=config.web.secure_cookies,
        ),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={404: not_found, 500: failed},
    )
