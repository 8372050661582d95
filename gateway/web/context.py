"""What every request handler needs, built once per process, and the helpers they
share: templates, the signed-in account, CSRF, flashes, redirects."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.config import Config
from gateway.errors import DatabaseUnavailableError, GatewayError
from gateway.logs import get_logger
from gateway.reports.rules import Rules
from gateway.store.audit import Actor
from gateway.store.stores import Stores
from gateway.web import auth, security
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
    throttle: security.LoginThrottle = field(init=False)
    env: jinja2.Environment = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = security.LoginThrottle(self.stores.throttle)
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
    account = auth.of(request)
    return Actor(account.username if account else "?", client_address(request))


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
        account=auth.of(request),
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


def admin(handler: Handler) -> Handler:
    """A page or action behind a sign-in. Who may open it is roles.py's table, whose
    guard app.py puts in front of every route; this only makes sure that guard ran
    and found an account (a route built without it is refused, never left open)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        if auth.of(request) is None:
            return render(request, "message.html", 403, title="403", text="forbidden")
        return await handler(request)

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
    ctx_of(request).hub.poke(full=True)  # not a tap: the board reads the day again
    return redirect(back)
