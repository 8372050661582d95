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
from gateway.errors import GatewayError
from gateway.reports.rules import Rules
from gateway.store.engine import sqlite_path
from gateway.store.stores import Stores
from gateway.web import routes_admin, routes_people, routes_public, routes_reports, security
from gateway.web.board import board_data, unknown_cards
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


def create_app(
    config: Config, *, stores: Stores | None = None, secret: str | None = None
) -> Starlette:
    """The application for this configuration. With `stores` (already checked) it
    uses them and leaves them open; else it opens the database at startup."""
    key = secret or security.load_or_create_secret(config.session_secret_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = stores is None
        db_stores = stores or await Stores.open_checked(config.database.url)
        hub = Hub()
        rules = Rules.from_config(config)
        ctx = WebContext(
            config=config, stores=db_stores, hub=hub, rules=rules, locale=config.locale
        )
        hub.topic("board", lambda: board_data(db_stores, rules))
        hub.topic("unknown", lambda: unknown_cards(db_stores, rules.zone))
        hub.start(_watcher(db_stores, hub))
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
        if isinstance(exc, GatewayError):
            return render(request, "message.html", 400, title="400", text=str(exc))
        log.error("web_internal_error", path=request.url.path, exc_info=exc)
        return render(request, "message.html", 500, title="500", text="error")

    routes = [
        Route("/", routes_public.board),
        Route("/events", routes_public.board_events),
        Route("/login", routes_public.login, methods=["GET", "POST"]),
        Route("/logout", routes_public.logout, methods=["POST"]),
        Route("/people", routes_people.people_page),
        Route("/people/live", routes_people.unknown_events),
        Route("/people/add", routes_people.add_person, methods=["POST"]),
        Route("/people/rename", routes_people.rename_person, methods=["POST"]),
        Route("/people/active", routes_people.set_active, methods=["POST"]),
        Route("/people/erase", routes_people.erase_person, methods=["POST"]),
        Route("/cards/assign", routes_people.assign_card, methods=["POST"]),
        Route("/cards/revoke", routes_people.revoke_card, methods=["POST"]),
        Route("/readers", routes_admin.readers_page),
        Route("/corrections", routes_admin.corrections_page),
        Route("/corrections/add", routes_admin.add_correction, methods=["POST"]),
        Route("/corrections/void", routes_admin.void_event, methods=["POST"]),
        Route("/audit", routes_admin.audit_page),
        Route("/reports", routes_reports.reports_page),
        Route("/reports/download", routes_reports.reports_download),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
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
