"""The web's sign-in state on PostgreSQL and SQLite: accounts with roles and expiry,
sessions that end (logout, idle, absolute, a new password or role, a removal), and
the login throttle, counted atomically however many attempts come at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import InvalidInputError, NotFoundError
from gateway.store.audit import Actor
from gateway.web.security import LoginThrottle
from tests.store.support import count, open_stores

ADMIN = Actor("root", "192.0.2.7")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def test_roles_and_expiry_are_checked_and_audited(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        with pytest.raises(InvalidInputError, match="unknown role"):
            await stores.accounts.add("x", "h", ADMIN, role="boss")
        with pytest.raises(InvalidInputError, match="expiry"):
            await stores.accounts.add("insp", "h", ADMIN, role="inspector")
        await stores.accounts.add("insp", "h", ADMIN, role="inspector", expires_at=NOW + HOUR)
        await stores.accounts.add("rep", "h", ADMIN, role="representative")
        found = await stores.accounts.credentials("insp")
        assert found is not None and found.role == "inspector"
        assert not found.expired(NOW) and found.expired(NOW + HOUR)
        with pytest.raises(InvalidInputError, match="expiry"):
            await stores.accounts.set_role("rep", "inspector", None, ADMIN)
        await stores.accounts.set_role("rep", "hr", None, ADMIN)
        with pytest.raises(NotFoundError):
            await stores.accounts.set_role("ghost", "hr", None, ADMIN)
        listed = {a.username: (a.role, a.expires_at) for a in await stores.accounts.accounts()}
        assert listed == {"insp": ("inspector", NOW + HOUR), "rep": ("hr", None)}
        rows = await stores.audit.recent()
    assert [(r.action, r.target) for r in reversed(rows)] == [
        ("account.add", "insp"),
        ("account.add", "rep"),
        ("account.role", "rep"),
    ]
    assert rows[0].details["from"] == "representative" and rows[0].details["role"] == "hr"


async def test_a_session_ends_at_logout_idle_expiry_and_account_changes(db_url: str) -> None:
    idle = timedelta(minutes=30)
    async with open_stores(db_url) as stores:
        await stores.accounts.add("ana", "h", ADMIN, role="hr")
        await stores.accounts.add("tmp", "h", ADMIN, role="inspector", expires_at=NOW + 3 * HOUR)

        async def login(name: str, key: str) -> None:
            await stores.sessions.create(name, key, now=NOW, lifetime=12 * HOUR, address="::1")

        await login("ana", "s1")
        seen = await stores.sessions.account("s1", now=NOW + timedelta(minutes=20), idle=idle)
        assert seen is not None and (seen.username, seen.role) == ("ana", "hr")
        # Used at +20 min: still open at +45, idle for good at +20 + 31.
        assert await stores.sessions.account("s1", now=NOW + 45 * timedelta(minutes=1), idle=idle)
        assert (
            await stores.sessions.account("s1", now=NOW + timedelta(minutes=80), idle=idle) is None
        )
        assert await stores.sessions.account("s1", now=NOW, idle=idle) is None  # row removed

        await login("ana", "s2")
        assert await stores.sessions.end("s2")
        assert await stores.sessions.account("s2", now=NOW, idle=idle) is None

        await login("ana", "s3")  # absolute end: 12 h, however busy
        assert await stores.sessions.account("s3", now=NOW + 12 * HOUR, idle=100 * HOUR) is None

        for change in ("passwd", "role", "remove"):
            await login("ana", "a")
            await login("ana", "b")
            assert await stores.sessions.count_of("ana") == 2
            if change == "passwd":
                assert await stores.accounts.set_password("ana", "h2", ADMIN) == 2
            elif change == "role":
                assert await stores.accounts.set_role("ana", "admin", None, ADMIN) == 2
            else:
                await stores.accounts.remove("ana", ADMIN)
            assert await stores.sessions.account("a", now=NOW, idle=idle) is None
            assert await stores.sessions.count_of("ana") == 0

        await login("tmp", "t")  # an inspector whose account ends in 3 h
        assert await stores.sessions.account("t", now=NOW + 2 * HOUR, idle=100 * HOUR)
        assert await stores.sessions.account("t", now=NOW + 3 * HOUR, idle=100 * HOUR) is None
    assert count(db_url, "web_sessions") == 0


async def test_attempts_sent_at_once_are_counted_one_by_one(db_url: str) -> None:
    async with open_stores(db_url) as stores:
        throttle = LoginThrottle(stores.throttle, clock=lambda: NOW)
        subjects = LoginThrottle.subjects("192.0.2.1", "ana")
        waits = await asyncio.gather(*(throttle.reserve(*subjects) for _ in range(40)))
        # FREE attempts cost nothing, the next is let through and sets a 2 s wait:
        # every other one is refused, however they interleave.
        assert sorted(waits)[: LoginThrottle.FREE + 1] == [0.0] * (LoginThrottle.FREE + 1)
        assert all(w == pytest.approx(2.0) for w in sorted(waits)[LoginThrottle.FREE + 1 :])
        # The same account from elsewhere waits too; another account from elsewhere not.
        assert await throttle.reserve(*LoginThrottle.subjects("192.0.2.9", "ana")) > 0
        assert await throttle.reserve(*LoginThrottle.subjects("192.0.2.9", "bob")) == 0

        later = LoginThrottle(stores.throttle, clock=lambda: NOW + timedelta(seconds=2.5))
        assert await later.reserve(*subjects) == 0.0  # the 5th, after the wait: 4 s next
        assert await later.reserve(*subjects) == pytest.approx(4.0)
        await later.succeeded(*subjects)
        assert await later.reserve(*subjects) == 0.0  # cleared: counting starts again

        forgotten = LoginThrottle(stores.throttle, clock=lambda: NOW + 2 * HOUR)
        for _ in range(LoginThrottle.FREE + 1):
            assert await forgotten.reserve(*LoginThrottle.subjects("192.0.2.9", "ana")) == 0.0
    # Quiet subjects are forgotten, not kept for ever.
    assert count(db_url, "login_throttle") == 2
