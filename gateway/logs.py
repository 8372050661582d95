"""structlog, configured in one place.

JSON lines when stderr is not a terminal (journald, files, pipes), a readable
console renderer when it is. Every event has `event`, `level`, an ISO-8601 UTC
`timestamp` and `logger` (which part of the gateway speaks); callers bind context
such as `reader` and `port`. Anything that looks
like a URL or a libpq string with a password is redacted (gateway.redact) before it
is rendered, in nested values and exception texts too.

Modules keep one logger at module level, `log = get_logger("spool")`: structlog
hands out a lazy proxy that assembles the real logger from the configuration in
force at each call, so a logger created at import time follows a
`configure_logging` that runs later.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import structlog

from gateway.redact import redact_text

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _NamedWriteLoggerFactory:
    """Like structlog.WriteLoggerFactory, but keeps the name passed to get_logger.

    structlog passes get_logger's positional arguments to the logger factory (the
    stdlib factory takes the logger's name the same way). The name cannot travel as
    a `logger=` keyword: that is wrap_logger's own parameter.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._loggers: dict[str | None, structlog.WriteLogger] = {}

    def __call__(self, *args: Any) -> structlog.WriteLogger:
        name = str(args[0]) if args else None
        # The proxies assemble a logger on every call (so they follow reconfiguration);
        # one WriteLogger per name keeps that cheap.
        found = self._loggers.get(name)
        if found is None:
            import structlog

            found = structlog.WriteLogger(self._file)
            found.name = name  # type: ignore[attr-defined]  # read by add_logger_name
            found = self._loggers.setdefault(name, found)
        return found


def add_logger_name(
    logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Put the name given to get_logger under `logger` (as structlog.stdlib does)."""
    name = getattr(logger, "name", None)
    if name is not None:
        event_dict.setdefault("logger", name)
    return event_dict


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


_CONTAINERS = (list, tuple, dict)


def _redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Numbers, booleans and None carry no secret: only strings and containers are
    # looked at (the swipe line, one per swipe, is mostly numbers and short words).
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact_text(value)
        elif isinstance(value, _CONTAINERS):
            event_dict[key] = _redacted(value)
    return event_dict


def _leading_keys(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Operators scan timestamp, level, event and logger first; the context follows.
    head = {
        k: event_dict.pop(k) for k in ("timestamp", "level", "event", "logger") if k in event_dict
    }
    return {**head, **event_dict}


# A configuration made before anything imported structlog: applied by the first
# get_logger. Light commands (`status`, `config check`) configure logging but
# never log, and importing structlog (which pulls in asyncio) is most of their
# start-up time.
_pending: tuple[str, bool, TextIO] | None = None


def configure_logging(
    level: str = "info", *, json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog for the whole process. `json=None` picks by the terminal."""
    global _pending
    out = stream or sys.stderr
    if json is None:
        json = not out.isatty()
    if "structlog" in sys.modules:
        _pending = None
        _apply(level, json, out)
    else:
        _pending = (level, json, out)


def _apply(level: str, json: bool, out: TextIO) -> None:
    import structlog

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
    global _pending
    import structlog

    if _pending is not None:
        pending, _pending = _pending, None
        _apply(*pending)
    return structlog.get_logger(name, **context)
