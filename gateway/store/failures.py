"""Turning driver exceptions into the one-line errors people and the daemon act on."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from gateway.errors import DatabaseUnavailableError
from gateway.redact import redact_text

_UNDEFINED_TABLE = "42P01"  # PostgreSQL SQLSTATE
_MAX_REASON = 240


def reason(error: BaseException) -> str:
    """The driver's message on one line, without anything that looks like a password."""
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split())
    if not text:
        text = type(original).__name__
    # URLs and libpq key=value strings alike: never echo a password.
    text = redact_text(text)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def is_missing_schema(error: BaseException) -> bool:
    original = getattr(error, "orig", None)
    if getattr(original, "sqlstate", None) == _UNDEFINED_TABLE:
        return True
    return "no such table" in str(original or error)


def is_unavailable(error: BaseException) -> bool:
    """Whether the database cannot be used now, as opposed to refusing this data.

    Only a constraint violation or a value the database cannot take (IntegrityError,
    DataError) is about the data: retrying it will fail again. Everything else, from a
    refused connection to a missing table or privilege (a role without the GRANTs)
    or a file that is not a database, is about the database, and the daemon keeps
    the swipe in its spool until the database is usable again.
    """
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return not isinstance(error, sa_exc.IntegrityError | sa_exc.DataError)


def unavailable(error: BaseException, where: str) -> DatabaseUnavailableError:
    if is_missing_schema(error):
        return DatabaseUnavailableError(
            f"database {where} has no clock-gateway schema: run 'clock-gateway db init'"
        )
    return DatabaseUnavailableError(f"database {where} unavailable: {reason(error)}")
