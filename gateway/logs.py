"""structlog, configured in one place.

JSON lines when stderr is not a terminal (journald, files, pipes), a readable
console renderer when it is. Every event has `event`, `level` and an ISO-8601 UTC
`timestamp`; callers bind context such as `reader` and `port`. Anything that looks
like a URL or a libpq string with a password is redacted (gateway.redact) before it is
rendered, in nested values and exception texts too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog._config import BoundLoggerLazyProxy

from gateway.redact import redact_text

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _redacted(value: Any, depth: int = 0) -> Any:
    # Strings anywhere in the event, nested lists and dicts included (a reader list,
    # an error's details), through the URL parser of gateway.redact.
    if isinstance(value, str):
        return redact_text(value)
    if depth < 4 and isinstance(value, list | tuple):
        return type(value)(_redacted(v, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return {k: _redacted(v, depth + 1) for k, v in value.items()}
    return value


def _redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        event_dict[key] = _redacted(value)
    return event_dict


def _leading_keys(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Operators scan timestamp, level and event first; the context follows.
    head = {k: event_dict.pop(k) for k in ("timestamp", "level", "event") if k in event_dict}
    return {**head, **event_dict}


def configure_logging(
    level: str = "info", *, json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog for the whole process. `json=None` picks by the terminal."""
    out = stream or sys.stderr
    if json is None:
        json = not out.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_secrets,
            _leading_keys,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str, **context: Any) -> Any:
    """A bound logger; `name` says which part of the gateway speaks.

    It stays a lazy proxy, so a module-level logger created at import time still
    follows `configure_logging` called later.
    """
    # `logger` is also wrap_logger's own parameter name, hence the explicit proxy.
    return BoundLoggerLazyProxy(None, initial_values={"logger": name, **context})
