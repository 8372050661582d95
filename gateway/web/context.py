"""What every request handler needs, built once per process, and the helpers they
share: templates, the logged-in admin, CSRF, flashes, redirects."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.config import Config
from gateway.errors import DatabaseUnavailableError, GatewayError
from gateway.logs import get_logger
from gateway.reports.rules import Rules
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from gateway.web import security
from gateway.web.i18n import flag_label, translator
from gateway.web.live import Hub

log = get_logger("web")
HERE = Path(__file__).parent
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class WebContext:
    """The handlers reach every store through `stores` (ctx.stores.<store>), and only so."""

    config: Config
    stores: Stores
    hub: Hub
    rules: Rules
    locale: str
    throttle: security.LoginThrottle = field(default_factory=security.LoginThrottle)
    env: jinja2.Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,  # every template, whatever its name
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["local"] = self.local

    @property
    def zone(self) -> tzinfo:
        return self.rules.zone

    def local(self, moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        return "" if moment is None else moment.astimezone(self.zone).strftime(fmt)


def ctx_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def actor(request: Request) -> Actor:
    return Actor(str(request.session.get("user", "?")), client_address(request))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = request.session["csrf"] = security.new_csrf_token()
    return token


def flash(request: Request, text: str, *, error: bool = False) -> None:
    request.session["flash"] = {"text": text, "error": error}


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = ctx_of(request)
    locale = values.pop("locale", ctx.locale)
    t = translator(locale)
    page = ctx.env.get_template(template).render(
        t=t,
        flag=lambda f: flag_label(t, f),
        weekday=lambda d: t("weekdays").split()[d.weekday()],
        locale=locale,
        user=request.session.get("user"),
        csrf=csrf_token(request),
        flash=request.session.pop("flash", None),
        path=request.url.path,
        **values,
    )
    return HTMLResponse(page, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(value: object) -> str:
    """Only a path on this site: never `//host` or `https://...` (open redirect)."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/people"


async def logged_in(request: Request) -> str | None:
    """The admin of this session, if their account still has the password it was
    opened with (a password change or a removal ends older sessions)."""
    user, fingerprint = request.session.get("user"), request.session.get("fp")
    if not isinstance(user, str) or not isinstance(fingerprint, str):
        return None
    stored = await ctx_of(request).stores.admins.password_hash(user)
    if stored is None or security.hash_fingerprint(stored) != fingerprint:
        request.session.pop("user", None)
        request.session.pop("fp", None)
        return None
    return user


def admin(handler: Handler) -> Handler:
    """Login required; for POST also a CSRF token matching the session's. A logged-out
    browser goes to the login page (and comes back afterwards)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            if await logged_in(request) is None:
                target = request.url.path if request.method == "GET" else "/people"
                return redirect(f"/login?next={quote(target)}")
            if request.method == "POST":
                form = await request.form()
                if not security.csrf_ok(request.session.get("csrf"), form.get("csrf")):
                    log.warning("csrf_refused", path=request.url.path)
                    return render(request, "message.html", 403, title="403", text="csrf")
            return await handler(request)
        except DatabaseUnavailableError as exc:
            log.warning("web_database_unavailable", path=request.url.path, error=str(exc))
            return render(request, "message.html", 503, title="503", text=str(exc))

    return wrapped


async def form_action(
    request: Request, back: str, action: Callable[[], Awaitable[str]]
) -> Response:
    """Run a change from a form: its message as a flash on success, the one-line
    reason on refusal (never a traceback), then back to the page (POST-redirect-GET)."""
    try:
        flash(request, await action())
    except DatabaseUnavailableError:
        raise
    except GatewayError as exc:
        flash(request, str(exc), error=True)
    ctx_of(request).hub.poke()
    return redirect(back)
