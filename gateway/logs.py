"""structlog, configured in one place.

JSON lines when stderr is not a terminal (journald, files, pipes), a readable
console renderer when it is. Every event has `event`, `level`, an ISO-8601 UTC
`timestamp` and `logger` (which part of the gateway speaks); callers bind context
such as `reader` and `port`. Anything that looks like a URL with a password is
redacted before it is rendered.

Modules keep one logger at module level, `log = get_logger("spool")`: structlog
hands out a lazy proxy that assembles the real logger from the configuration in
force at each call, so a logger created at import time follows a
`configure_logging` that runs later.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _NamedWriteLogger(structlog.WriteLogger):
    """A WriteLogger that knows the name it was asked for (`get_logger("x")`)."""

    def __init__(self, file: TextIO | None, name: str | None) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    """Like structlog.WriteLoggerFactory, but keeps the name passed to get_logger.

    structlog passes get_logger's positional arguments to the logger factory (the
    stdlib factory takes the logger's name the same way). The name cannot travel as
    a `logger=` keyword: that is wrap_logger's own parameter.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._loggers: dict[str | None, _NamedWriteLogger] = {}

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        name = str(args[0]) if args else None
        # The proxies assemble a logger on every call (so they follow reconfiguration);
        # one WriteLogger per name keeps that cheap.
        found = self._loggers.get(name)
        if found is None:
            found = self._loggers.setdefault(name, _NamedWriteLogger(self._file, name))
        return found


def add_logger_name(
    logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Put the name given to get_logger under `logger` (as structlog.stdlib does)."""
    name = getattr(logger, "name", None)
    if name is not None:
        event_dict.setdefault("logger", name)
    return event_dict


def _redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str) and "://" in value:
            event_dict[key] = _URL_PASSWORD.sub(r"\1:***@", value)
    return event_dict


def _leading_keys(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Operators scan timestamp, level, event and logger first; the context follows.
    head = {
        k: event_dict.pop(k) for k in ("timestamp", "level", "event", "logger") if k in event_dict
    }
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
            add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_secrets,
            _leading_keys,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=_NamedWriteLoggerFactory(out),
        # Off so that loggers made at import time follow a later configure_logging.
        cache_logger_on_first_use=False,
    )


def get_logger(name: str, **context: Any) -> Any:
    """A logger for module level; `name` says which part of the gateway speaks.

    structlog.get_logger returns a lazy proxy: nothing is assembled until the
    first call, and with caching off every call uses the configuration in force.
    """
    return structlog.get_logger(name, **context)
