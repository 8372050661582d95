"""Reading one TOML table and checking its values: the pieces every section's parser uses.

Split from the configuration's model and parsers (gateway/config/__init__.py) so each
stays one job: a `Section` reads keys of one table, names unknown ones and collects
every problem of the file instead of raising at the first; the `check_*` functions
say what is wrong with one value, or None.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import string
from collections.abc import Callable
from datetime import time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.errors import ConfigError
from gateway.redact import redact_url as redact_url  # re-exported: callers import it here

MAX_WAIT_S = 2.5


T = TypeVar("T")


class Section:
    """Reads one TOML table, remembering which keys were used to reject unknown ones.

    Problems are collected in `problems` (shared by every section of one file), not
    raised, so that one run of `config check` lists every mistake of the file.
    """

    def __init__(self, source: str, prefix: str, data: Any, problems: list[ConfigError]) -> None:
        self.source = source
        self.prefix = prefix
        self.problems = problems
        if not isinstance(data, dict):
            problems.append(ConfigError(source, prefix or None, "must be a table"))
            data = {}
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, problem: str) -> None:
        self.problems.append(ConfigError(self.source, self.key(name), problem))

    def get(
        self,
        name: str,
        kind: type[T] | tuple[type, ...],
        default: T | None = None,
        *,
        required: bool = False,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        """The value, or `default` after recording the problem with it."""
        self.seen.add(name)
        if name not in self.data:
            if required:
                self.fail(name, "missing (required)")
            return default
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; a TOML `true` is never a number here.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(type_name(k) for k in kinds)
            self.fail(name, f"must be {names}, got {type_name(type(value))} {value!r}")
            return default
        if check and (problem := check(value)):
            self.fail(name, problem)
            return default
        return value

    def table(self, name: str) -> Section:
        self.seen.add(name)
        return Section(self.source, self.key(name), self.data.get(name, {}), self.problems)

    def finish(self) -> None:
        for unknown in sorted(set(self.data) - self.seen):
            self.fail(unknown, "unknown key")


def type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }.get(kind, kind.__name__)


def one_of(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}; got {value!r}"

    return check


def check_positive(value: Any) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value}"


def check_seconds(lowest: float, highest: float, why: str = "") -> Callable[[Any], str | None]:
    """A finite number of seconds within [lowest, highest] (TOML allows nan and inf)."""

    def check(value: Any) -> str | None:
        if math.isfinite(value) and lowest <= value <= highest:
            return None
        return f"must be from {lowest:g} to {highest:g} seconds{why}, got {value}"

    return check


def template_problem(template: str) -> str | None:
    """Why a message template cannot be used, or None; `run` and `config check` agree.

    Only the fields {name} and {card} exist; positional fields ({0}), attribute or
    index access ({name.upper}) and conversions are refused.
    """
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"bad template {template!r}: {exc}"
    for _text, field_name, spec, conversion in fields:
        if field_name is None:
            continue
        if field_name not in ("name", "card") or spec or conversion:
            shown = "{" + field_name + ("!" + conversion if conversion else "") + "}"
            return f"bad template {template!r}: unknown field {shown} (use {{name}} or {{card}})"
    return None


def check_non_negative(value: Any) -> str | None:
    return None if value >= 0 else f"must be 0 or more, got {value}"


def check_wait_s(value: Any) -> str | None:
    if math.isfinite(value) and 0 < value <= MAX_WAIT_S:
        return None
    return (
        f"must be more than 0 and at most {MAX_WAIT_S:g} seconds (the reader is promised "
        f"an answer within 3 s), got {value}"
    )


def check_state_dir(value: Any) -> str | None:
    return None if value.strip() else "must not be empty (leave it out for the default)"


def check_timezone(value: Any) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r} (use an IANA name such as Europe/Madrid)"
    return None


def check_database_url(value: Any) -> str | None:
    if not re.match(r"^(postgresql|postgres|sqlite)(\+\w+)?://", value):
        return "must be a postgresql://... or sqlite:///... URL"
    return database_url_problem(value)


def database_url_problem(url: str) -> str | None:
    """What is wrong with the URL's host part (its port), or None; never names a secret."""
    # The host part follows the userinfo's last '@' (see gateway.redact).
    hostpart = url.partition("://")[2].rpartition("@")[2]
    netloc = re.split(r"[/?]", hostpart, maxsplit=1)[0]
    # libpq's multi-host form (h1:5432,h2:5433, with target_session_attrs so a
    # failover finds the new primary): every host's port must be good.
    for one in netloc.split(","):
        if problem := _port_problem(one):
            return problem
    return None


def _port_problem(netloc: str) -> str | None:
    """The port problem of one HOST[:PORT] or [IPv6][:PORT], or None."""
    if netloc.startswith("["):  # [IPv6]:port
        port = netloc.partition("]")[2]
        colon, port = port[:1], port[1:]
    else:
        _host, colon, port = netloc.partition(":")
    if not colon:
        return None
    if port.isascii() and port.isdigit() and 1 <= int(port) <= 65535:
        return None
    return f"bad port {port[:20]!r} in the URL: use a number from 1 to 65535"


GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def check_gateway_id(value: Any) -> str | None:
    if GATEWAY_ID.match(value):
        return None
    return "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"


def default_gateway_id() -> str:
    """The host name, cut to what a gateway id may hold (its first label, 63 characters)."""
    name = socket.gethostname().split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).lstrip("._-")[:63]
    return cleaned or "gateway"


def check_postgres_url(value: Any) -> str | None:
    if re.match(r"^(postgresql|postgres)(\+\w+)?://", value):
        return None
    return "must be a postgresql://... URL"


def check_listen(value: Any) -> str | None:
    return (
        None
        if parse_listen(value)
        else (
            "must be HOST:PORT with an IP address (127.0.0.1:9108, [::1]:9108) and a port 0-65535"
        )
    )


def parse_listen(value: str) -> tuple[str, int] | None:
    """'127.0.0.1:9108' or '[::1]:9108' -> (host, port); None when it is not that."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([0-9.]+|localhost):(\d{1,5})", value)
    if not match:
        return None
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return (host, port) if port <= 65535 else None


_SPAN_TEXT = re.compile(r"^\s*(?:(\d{1,3})\s*h)?\s*(?:(\d{1,4})\s*m(?:in)?)?\s*$")


def parse_span(value: str) -> int | None:
    """'2h', '90m', '1h30m' -> minutes; None when it is not that (or is zero)."""
    match = _SPAN_TEXT.match(value) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        return None
    minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    return minutes or None


def span_minutes(section: Section, name: str, default: int, *, highest: int) -> int:
    """A key holding a time like "2h", "90m" or "1h30m", in minutes (at most `highest`)."""

    def check(value: Any) -> str | None:
        minutes = parse_span(value)
        if minutes is None or minutes > highest:
            shape = 'a time like "2h", "90m" or "1h30m"'
            return f"must be {shape}, at most {highest // 60} h, got {value!r}"
        return None

    raw = section.get(name, str, None, check=check)
    return default if raw is None else parse_span(raw) or default


_CLOCK_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def clock_spans(
    section: Section, name: str, default: tuple[tuple[time, time], ...]
) -> tuple[tuple[time, time], ...]:
    """A list of "HH:MM-HH:MM" strings (an end before the start crosses midnight)."""
    raw = section.get(name, list, None)
    if raw is None:
        return default
    if not raw:
        section.fail(name, 'must list at least one "HH:MM-HH:MM"')
        return default
    spans = []
    for i, item in enumerate(raw):
        match = _CLOCK_SPAN.match(item) if isinstance(item, str) else None
        values = [int(g) for g in match.groups()] if match else []
        if not match or values[0] > 23 or values[2] > 23 or values[1] > 59 or values[3] > 59:
            section.fail(f"{name}[{i}]", f'must be "HH:MM-HH:MM", got {item!r}')
            return default
        start, end = time(values[0], values[1]), time(values[2], values[3])
        if start == end:
            section.fail(f"{name}[{i}]", f"starts and ends at {item!r}")
            return default
        spans.append((start, end))
    return tuple(spans)
