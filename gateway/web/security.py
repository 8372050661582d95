"""Passwords, the session key and ids, CSRF tokens and the login throttle's policy.

- Passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommended set).
- Sessions live in the database (gateway.store.sessions). The cookie holds a random
  session id, a CSRF token and at most a one-time message, signed (itsdangerous,
  through Starlette's SessionMiddleware) with a random key kept in a 0600 file; no
  name, no role. The database keeps only the id's SHA-256.
- CSRF: a synchronizer token, random per session, in every form; a POST whose token
  does not match the session's is refused before anything else runs.
- Logins: every attempt is counted *before* the password is checked, per client
  address and per username, in the database (gateway.store.throttle): the first FREE
  cost nothing, each one after them makes the next wait twice as long (capped). While
  a wait runs, nothing is checked, the right password included: the page says so.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.errors import ConfigError, InvalidInputError
from gateway.store.throttle import ThrottleStore

_HASHER = PasswordHasher()
MIN_PASSWORD = 10
# Verified against when the username does not exist, so that the answer takes as long
# as for a wrong password (no username probing by timing).
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"a password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_id_hash(session_id: str) -> str:
    """What the database keeps of a session id: a copy of the table opens nothing."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def load_or_create_secret(path: Path) -> str:
    """The session-signing key: read it, or create it (0600) on first start."""
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, f"cannot read the session key: {exc}") from None
    if len(text) >= 32:
        return text
    key = secrets.token_urlsafe(48)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    except OSError as exc:
        raise ConfigError(
            str(path), None, f"cannot write the session key: {exc.strerror}"
        ) from None
    return key


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: object, given: object) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


class LoginThrottle:
    """The delays between login attempts, counted in the database per subject (a
    client address, a username) before each password check.

    Attempts 1..FREE impose no wait; the n-th after them makes the next wait
    BASE * 2**(n-1) seconds, at most CAP. A success clears its subjects; a subject
    quiet for FORGET starts again from zero.
    """

    FREE = 3
    BASE = 2.0
    CAP = 300.0
    FORGET = timedelta(hours=1)

    def __init__(
        self, store: ThrottleStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._clock = clock

    @classmethod
    def delay_after(cls, attempts: int) -> float:
        if attempts <= cls.FREE:
            return 0.0
        return min(cls.CAP, cls.BASE * 2.0 ** min(attempts - cls.FREE - 1, 32))

    @staticmethod
    def subjects(address: str, username: str) -> tuple[str, str]:
        return f"addr:{address}", f"user:{username.lower()}"

    async def reserve(self, *subjects: str) -> float:
        """Count an attempt: 0.0 if it may be checked now, else the seconds to wait."""
        return await self._store.reserve(
            subjects, now=self._clock(), delay_after=self.delay_after, forget=self.FORGET
        )

    async def succeeded(self, *subjects: str) -> None:
        await self._store.clear(subjects)
