"""Who may open which page and do which action: one table, and the one guard that
every route goes through (app.py wraps each route with `guard`).

The roles (an account has one):
- admin: everything, accounts included;
- hr: people, cards, corrections, reports; not the accounts, not the audit log;
- inspector: reads every record, the audit log and the seals, downloads the reports
  and the register export, changes nothing (and the account has an expiry date,
  gateway.store.accounts); it lands on /register;
- representative: the workers' representatives' page of monthly totals per person,
  no daily detail;
- worker: one person's own record under /me (the account is linked to that person;
  gateway/web/routes_me.py refuses, and audits, anything naming someone else), and
  the board when it is open to anyone.

An account signed in with a one-time code (must_change_password) reaches nothing but
/me/password (and /logout) until it has chosen a password of its own.

A signed-out browser asking for a page that needs an account goes to the login page;
a signed-in account whose role may not is refused with 403, and the refusal is
audited. Every POST also needs the session's CSRF token. tests/web/test_roles.py walks
every route with every role.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import compile_path

from gateway.errors import DatabaseUnavailableError
from gateway.logs import get_logger
from gateway.store.audit import Actor
from gateway.store.tables import ACCOUNT_ROLES
from gateway.web import auth, limits, security
from gateway.web.context import ctx_of, render

log = get_logger("web")
Handler = Callable[[Request], Awaitable[Response]]

EVERYONE = frozenset(ACCOUNT_ROLES)
WORKER = frozenset({"worker"})  # one person's own record
STAFF = EVERYONE - WORKER  # the accounts that see more than their own
READ = frozenset({"admin", "hr", "inspector"})  # every record, read only
EDIT = frozenset({"admin", "hr"})  # people, cards, corrections
AUDIT = frozenset({"admin", "inspector"})
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]  # the signed-in roles allowed
    public: bool = False  # anyone at all, signed in or not
    board: bool = False  # the board: see board_open


ACCESS: dict[str, Rule] = {
    "/": Rule(EVERYONE, board=True),
    "/events": Rule(EVERYONE, board=True),
    "/login": Rule(EVERYONE, public=True),
    "/logout": Rule(EVERYONE, public=True),
    "/people": Rule(READ),
    "/people/add": Rule(EDIT),
    "/people/rename": Rule(EDIT),
    "/people/active": Rule(EDIT),
    "/people/erase": Rule(EDIT),
    "/people/{uid:path}": Rule(READ),  # a person's page (routes_person.py)
    "/people/regime": Rule(EDIT),
    "/cards/assign": Rule(EDIT),
    "/cards/revoke": Rule(EDIT),
    "/cards/unknown": Rule(READ),
    "/cards/unknown/events": Rule(READ),
    "/readers": Rule(READ),
    "/corrections": Rule(READ),
    "/corrections/add": Rule(EDIT),
    "/corrections/void": Rule(EDIT),
    "/corrections/accept": Rule(EDIT),
    "/corrections/reject": Rule(EDIT),
    "/corrections/withdraw": Rule(EDIT),
    "/open-days": Rule(READ),
    "/workers": Rule(EDIT),
    "/workers/add": Rule(EDIT),
    "/workers/code": Rule(EDIT),
    "/me": Rule(WORKER),
    "/me/request": Rule(WORKER),
    "/me/accept": Rule(WORKER),
    "/me/reject": Rule(WORKER),
    "/me/withdraw": Rule(WORKER),
    "/me/download": Rule(WORKER),
    "/me/password": Rule(EVERYONE),
    "/audit": Rule(AUDIT),
    "/reports": Rule(READ),
    "/reports/download": Rule(READ),
    # The inspector too: routes_monthly.py says why.
    "/register/monthly": Rule(READ),
    "/totals": Rule(STAFF),
    "/register": Rule(READ),
    "/register/export": Rule(READ),
    "/accounts": Rule(ADMIN),
    "/accounts/add": Rule(ADMIN),
    "/accounts/role": Rule(ADMIN),
    "/accounts/remove": Rule(ADMIN),
    "/uploads/people": Rule(EDIT),
    "/uploads/people/confirm": Rule(EDIT),
    "/uploads/timetable": Rule(EDIT),
    "/uploads/timetable/confirm": Rule(EDIT),
}

# The navigation, in order; each link shows only to the roles its page allows.
NAV = (
    ("/", "board"),
    ("/people", "people"),
    ("/readers", "readers"),
    ("/corrections", "corrections"),
    ("/open-days", "open_days"),
    ("/workers", "workers"),
    ("/reports", "reports"),
    ("/totals", "totals"),
    ("/register", "register"),
    ("/register/monthly", "summaries"),
    ("/audit", "audit"),
    ("/accounts", "accounts"),
    ("/me", "me"),
)
# What an account with a one-time code may open before it has chosen a password.
FIRST_PASSWORD = frozenset({"/me/password", "/logout", "/login"})


# ACCESS keys are the routes' own paths, parameters included ("/people/{uid:path}"):
# `guard` is built with that key. A concrete path (a link in a template) finds its
# rule by the same patterns Starlette matches routes with.
_PATTERNS = [(compile_path(key)[0], rule) for key, rule in ACCESS.items() if "{" in key]


def rule_for(path: str) -> Rule | None:
    """The rule of a route key or of a concrete path ("/people/ana.garcia")."""
    rule = ACCESS.get(path)
    if rule is None:
        rule = next((r for pattern, r in _PATTERNS if pattern.match(path)), None)
    return rule


def allowed(role: str | None, path: str) -> bool:
    rule = rule_for(path)
    return rule is not None and (rule.public or (role is not None and role in rule.roles))


def home(role: str) -> str:
    """Where an account lands after signing in when it asked for nothing it may open."""
    if role in WORKER:
        return "/me"
    if role == "inspector":
        return "/register"  # what it may read, the seals' state, the export
    return "/people" if role in READ else "/totals"


def board_open(request: Request, account: auth.Account | None) -> bool:
    """The board: any signed-in account; else the board token when one is configured;
    else anyone, unless [web] board = "login"."""
    web = ctx_of(request).config.web
    if account is not None and account.role not in WORKER:
        return True  # a worker sees the board only as anyone passing would
    if web.board_token is not None:
        return security.csrf_ok(web.board_token, request.query_params.get("token", ""))
    return bool(web.board != "login")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def guard(path: str, endpoint: Handler) -> Handler:
    """The endpoint behind ACCESS[path] (a route missing from the table fails here,
    when the application is built, not on a request)."""
    rule = ACCESS[path]

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        try:
            account = await auth.current(request)
            if account and account.must_change_password and path not in FIRST_PASSWORD:
                return RedirectResponse("/me/password", status_code=303)
            if rule.board and not board_open(request, account):
                if path == "/events":
                    return Response("forbidden\n", status_code=403, media_type="text/plain")
                if account is not None:  # a worker: the board is not theirs
                    return RedirectResponse(home(account.role), status_code=303)
                if ctx_of(request).config.web.board_token is None:
                    return RedirectResponse("/login?next=/", status_code=303)
                return render(request, "message.html", 403, title="403", text="board_token")
            if not (rule.public or rule.board):
                if account is None:
                    # The page asked for, not the route's pattern (/people/{uid:path}).
                    target = request.url.path if request.method == "GET" else ""
                    url = f"/login?next={quote(target)}" if target else "/login"
                    return RedirectResponse(url, status_code=303)
                if account.role not in rule.roles:
                    await ctx_of(request).stores.audit.record(
                        Actor(account.username, _address(request)),
                        "access.refused",
                        request.url.path,
                        {"role": account.role, "method": request.method},
                    )
                    log.warning("web_access_refused", path=path, role=account.role)
                    return render(request, "message.html", 403, title="403", text="forbidden")
            if request.method == "POST":
                try:
                    form = await request.form()
                except limits.BodyRefused as refused:  # an upload too big or too slow
                    log.warning("web_upload_refused", path=path, status=refused.status)
                    return render(request, "upload_refused.html", refused.status, refused=refused)
                if not security.csrf_ok(request.session.get("csrf"), form.get("csrf")):
                    log.warning("csrf_refused", path=path)
                    return render(request, "message.html", 403, title="403", text="csrf")
            return await endpoint(request)
        except DatabaseUnavailableError as exc:
            # The details (host, port, user) are for the log, never for the page.
            log.warning("web_database_unavailable", path=path, error=str(exc))
            return render(request, "message.html", 503, title="503", text="database_unavailable")

    return guarded
