"""Passwords, the session key, CSRF tokens and the login throttle.

- Passwords: argon2id (argon2-cffi's defaults, RFC 9106's second recommended set).
- The session cookie is signed (itsdangerous, through Starlette's SessionMiddleware)
  with a random key kept in a 0600 file, so sessions survive a restart and the key
  never appears in the configuration or the logs.
- CSRF: a synchronizer token, random per session, in every form; a POST whose token
  does not match the session's is refused before anything else runs.
- Logins: failures are counted per client address and per username; after a few,
  each further attempt must wait twice as long as the last (capped), and one coming
  sooner is refused without even checking the password.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.errors import ConfigError, InvalidInputError

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


def hash_fingerprint(stored_hash: str) -> str:
    """A short digest of the stored hash, kept in the session: a password change (or a
    removed account) ends every session opened before it."""
    return hmac.new(b"session", stored_hash.encode(), "sha256").hexdigest()[:16]


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


@dataclass
class _Failures:
    count: int = 0
    wait_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Exponential delay per key (an address, a username), bounded in memory.

    The first FREE failures cost nothing; the n-th after them makes the next attempt
    wait BASE * 2**(n-1) seconds, at most CAP. A success clears the key; a key quiet
    for FORGET seconds is forgotten.
    """

    FREE = 3
    BASE = 2.0
    CAP = 300.0
    FORGET = 3600.0
    MAX_KEYS = 10_000

    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self._keys: dict[str, _Failures] = {}

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def wait_left(self, *keys: str) -> float:
        """Seconds until these keys may try again (0: now)."""
        now = self._now()
        return max([0.0] + [f.wait_until - now for k in keys if (f := self._keys.get(k))])

    def failed(self, *keys: str) -> float:
        """Count a failure; the wait it imposes on the next attempt."""
        now = self._now()
        self._prune(now)
        wait = 0.0
        for key in keys:
            f = self._keys.setdefault(key, _Failures())
            f.count += 1
            f.last = now
            if f.count > self.FREE:
                delay = min(self.CAP, self.BASE * 2 ** (f.count - self.FREE - 1))
                f.wait_until = now + delay
                wait = max(wait, delay)
        return wait

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._keys.pop(key, None)

    def _prune(self, now: float) -> None:
        if len(self._keys) < self.MAX_KEYS:
            return
        for key in [k for k, f in self._keys.items() if now - f.last > self.FORGET]:
            del self._keys[key]
        while len(self._keys) >= self.MAX_KEYS:  # still full: drop the oldest
            del self._keys[min(self._keys, key=lambda k: self._keys[k].last)]
