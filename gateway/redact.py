"""Masking secrets before text is shown or logged: database URLs and libpq strings.

A database URL can carry its password in the userinfo (`user:pw@host`, where
SQLAlchemy accepts a raw `/`, `:` or `?` in `pw`), in query parameters
(`?password=`, `?sslpassword=`, `?passfile=`) and, in a libpq keyword string,
as `password=...`. Each is masked by parsing the URL's parts, not by a pattern
over the whole text that a character in the password could end early.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote_plus

MASK = "***"
# Keys whose value is a secret (passfile names where the secret is; still masked).
SECRET_KEYS = frozenset({"password", "passfile", "sslpassword"})

# A URL inside free text: scheme://, then up to the next white space.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")
# libpq keyword strings: password=value, password = 'quoted \' value'.
_KEYWORD = re.compile(
    r"(?P<key>\b(?:ssl)?pass(?:word|file))(?P<eq>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'?|[^\s&;,]*)",
    re.IGNORECASE,
)


# Secrets this process holds (database passwords), in every spelling it may meet
# them: libpq and drivers sometimes quote a connection string in an error, and a
# password with a space or a quote defeats any pattern over that text.
_SECRETS: list[str] = []
# Shorter ones would mask ordinary words in every log line; a password that short
# is refused by any sane server policy, and the URL and keyword passes still apply.
_SECRET_MIN_LEN = 4


def remember_secret(secret: str) -> None:
    """Mask `secret` (raw and percent-encoded) wherever it appears in redacted text."""
    if len(secret) < _SECRET_MIN_LEN:
        return
    for spelling in (secret, quote(secret, safe=""), quote_plus(secret), quote(secret)):
        if spelling not in _SECRETS:
            _SECRETS.append(spelling)
    _SECRETS.sort(key=len, reverse=True)  # a longer spelling before its own prefix


def redact_url(url: str) -> str:
    """A database URL (or libpq keyword string) with every secret replaced by ***."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _mask_keywords(url)
    # The userinfo ends at the LAST '@': a password may hold any other character
    # (SQLAlchemy reads `user:a/b@host` as password `a/b`). Whatever precedes that
    # '@' after the first ':' is treated as the password, even if an odd URL puts
    # a query there: masking too much is the safe side.
    userinfo, at, hostpart = rest.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        if colon:
            userinfo = f"{user}:{MASK}"
        elif "?" in userinfo:  # no userinfo after all: an '@' inside the query
            userinfo, hostpart = "", rest
        rest = f"{userinfo}@{hostpart}" if userinfo else hostpart
    path, question, query = rest.partition("?")
    if question:
        rest = f"{path}?{_mask_query(query)}"
    # A last pass over the whole text catches a secret key the parts above missed.
    return _mask_keywords(f"{scheme}://{rest}")


def redact_text(text: str) -> str:
    """Free text (an error message, a log value) with every URL and libpq secret masked."""
    if len(text) < _SECRET_MIN_LEN:
        # Too short to hold a remembered secret, "pass" or a URL ("a://" at least):
        # most values of the swipe line ("in", "OK"), one line per swipe.
        return text
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" not in text and "pass" not in text.lower():
        return text  # the common case, kept cheap: log processors call this per value
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return _mask_keywords(text)


def _mask_query(query: str) -> str:
    items = []
    for item in query.split("&"):
        key, eq, _value = item.partition("=")
        # libpq decodes percent escapes in keys too: `pass%77ord` is `password`.
        if eq and unquote_plus(key).strip().lower() in SECRET_KEYS:
            item = f"{key}={MASK}"
        items.append(item)
    return "&".join(items)


def _mask_keywords(text: str) -> str:
    return _KEYWORD.sub(lambda m: f"{m.group('key')}{m.group('eq')}{MASK}", text)
