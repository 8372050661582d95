"""The configuration file: one TOML file, validated up front, immutable afterwards.

Every problem is reported as a `ConfigError` naming the file, the key and what is
wrong, so `clock-gateway` can print one line and exit with `ExitCode.CONFIG`.
The database URL can come from the environment so that secrets never have to live
in the file.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import socket
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.domain import Direction
from gateway.errors import ConfigError
from gateway.redact import redact_url as redact_url  # re-exported: callers import it here

Role = Literal["in", "out"]
RoleMismatch = Literal["trust-config", "refuse"]

ENV_CONFIG = "CLOCK_GATEWAY_CONFIG"
ENV_DATABASE_URL = "CLOCK_GATEWAY_DATABASE_URL"
ENV_STATE_DIR = "CLOCK_GATEWAY_STATE_DIR"
ENV_NOTIFY_URL = "CLOCK_GATEWAY_NOTIFY_URL"
SERVICE_CONFIG = Path("/etc/clock-gateway/config.toml")
# The service's secrets (systemd EnvironmentFile=); admin commands read it too.
SERVICE_ENV = Path("/etc/clock-gateway/env")
# The unit's StateDirectory=, where root and the service's configuration keep state too.
SERVICE_STATE_DIR = Path("/var/lib/clock-gateway")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOCALES = ("en", "es")
# The message keys a locale defines; templates in the file may override any of them.
MESSAGE_KEYS = (
    "idle_in",
    "idle_out",
    "in_ok",
    "out_ok",
    "in_error",
    "out_error",
    "unknown_card",
    "duplicate",
    "offline_ok",
    "spool_full",
    "disk_full",
    "disk_error",
    "not_ready",
    "role_refused",
)
SUPPORTED_BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 250000, 500000, 1000000)
# Values that would break a promise are refused, not just odd ones. The protocol
# promises a RESULT within 3 s: the database wait plus a spool append must fit.
MAX_WAIT_S = 2.5
MAX_DUPLICATE_WINDOW_S = 3600.0  # a longer window would swallow real punches
MIN_DIRECTORY_REFRESH_S = 1.0  # faster is a query loop against the database
MAX_DIRECTORY_REFRESH_S = 86400.0
_READER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


@dataclass(frozen=True)
class ReaderConfig:
    name: str
    port: str
    role: Direction  # parsed here, once: the link and the daemon use it as it is
    baud: int = 115200

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Direction(self.role))


@dataclass(frozen=True)
class DatabaseConfig:
    url: str
    # Bounded wait for the database on the swipe path; beyond it the swipe is spooled.
    wait_s: float = 1.0
    # How often the last-known card directory is refreshed from the database.
    directory_refresh_s: float = 60.0


@dataclass(frozen=True)
class SpoolConfig:
    max_events: int = 1_000_000
    warn_ratio: float = 0.9
    # Whether the LCD says that a swipe was saved offline.
    show_offline: bool = True


# The original system's shifts and its 12 teaching slots (local times).
ORIGINAL_SHIFTS: tuple[tuple[time, time], ...] = (
    (time(8, 15), time(14, 45)),
    (time(16, 0), time(22, 15)),
)
ORIGINAL_SLOTS: tuple[tuple[time, time], ...] = tuple(
    (time(*a), time(*b))
    for a, b in (
        ((8, 15), (9, 15)),
        ((9, 15), (10, 15)),
        ((10, 15), (11, 15)),
        ((11, 45), (12, 45)),
        ((12, 45), (13, 45)),
        ((13, 45), (14, 45)),
        ((16, 0), (17, 0)),
        ((17, 0), (18, 0)),
        ((18, 0), (19, 0)),
        ((19, 0), (20, 0)),
        ((20, 10), (21, 10)),
        ((21, 10), (22, 10)),
    )
)
PresenceRule = Literal["midnight", "shift"]


@dataclass(frozen=True)
class PresenceConfig:
    excluded_rooms: tuple[str, ...] = ()
    late_grace_min: int = 5
    # Which taps `who` counts: "midnight" = since local midnight (or the start of a
    # row that began the day before); "shift" = since the start of the current shift,
    # as the original system did.
    rule: PresenceRule = "midnight"
    shifts: tuple[tuple[time, time], ...] = ORIGINAL_SHIFTS


@dataclass(frozen=True)
class OriginalConfig:
    """`import-original`: the original's slot table (hour index -> local times)."""

    slots: tuple[tuple[time, time], ...] = ORIGINAL_SLOTS


@dataclass(frozen=True)
class MetricsConfig:
    """`[metrics]`: the /metrics and /healthz endpoint (gateway.metrics.server); off unless
    `listen` is set."""

    listen: tuple[str, int] | None = None  # (host, port)


@dataclass(frozen=True)
class FleetConfig:
    """`[fleet]`: this gateway's row in the central `gateways` table."""

    # How often the daemon publishes its heartbeat (best effort, off the swipe path).
    heartbeat_s: float = 15.0
    # `status --all` reports a gateway silent for longer than this.
    silent_after_s: float = 120.0
    # Where to LISTEN for card changes when database.url goes through a pooler in
    # transaction mode (a LISTEN needs a session of its own); None: database.url.
    notify_url: str | None = None


# Spanish law keeps working-time records four years (RD-ley 8/2019, art. 34.9 ET):
# a retention setting below it would let a purge delete what must be kept.
MIN_RETENTION_YEARS = 4
_BOARD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
BoardMode = Literal["names", "initials", "counts", "login"]
BOARD_MODES: tuple[BoardMode, ...] = ("names", "initials", "counts", "login")


@dataclass(frozen=True)
class WebConfig:
    """`clock-gateway web`: where it listens and who may see the board."""

    bind: str = "127.0.0.1"  # behind a TLS reverse proxy; see the README
    port: int = 8080
    # None: the board is open to anyone who can reach it; else `/?token=...` is needed.
    board_token: str | None = None
    # The key that signs session cookies; created (0600) on first start when missing.
    session_secret_file: Path | None = None  # default: <state_dir>/web-session.key
    session_hours: float = 12.0  # a session's absolute lifetime
    session_idle_minutes: float = 60.0  # ... and how long it lasts unused
    # Mark the session cookie Secure: set it when the site is served over HTTPS.
    secure_cookies: bool = False
    retention_years: int = MIN_RETENTION_YEARS
    # What the board shows (docs/WEB.md): full names, initials, only the counts, or
    # names to signed-in accounts only. Initials by default: the board's purpose (who
    # is missing now) needs no more on a screen anyone passing can read.
    board: BoardMode = "initials"
    # Connections: all together, and per client address (a trusted proxy's clients by
    # their forwarded address); idle keep-alive, request-header and body timeouts.
    max_connections: int = 1000
    max_connections_per_address: int = 50
    keepalive_timeout_s: float = 5.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    # Where a request body that does not fit in memory would be spooled: never the
    # daemon's state file system (a full disk there makes taps KO). Default: systemd's
    # $RUNTIME_DIRECTORY for the web unit, else the system's temporary directory.
    temp_dir: Path | None = None


# == [register]: the working-time register (docs/REGISTER.md) ==========================
# The legal minimum retention per jurisdiction: Spain, Estatuto de los Trabajadores art.
# 34.9 (4 years); Portugal, Codigo do Trabalho art. 202 (5 years). The database itself
# refuses to delete a register row younger than the smallest (store/tables.py).
RETENTION_BY_JURISDICTION: dict[str, int] = {"ES": 4, "PT": 5}


@dataclass(frozen=True)
class RegisterConfig:
    """`[register]`: whose law the register follows, and how long it is kept."""

    jurisdiction: str = "ES"
    retention_years: int = RETENTION_BY_JURISDICTION["ES"]
    # Whether this daemon seals (on a fleet, a gateway whose database role may not
    # read the register leaves it to the others: docs/REGISTER.md).
    seal: bool = True


@dataclass(frozen=True)
class Config:
    source: str  # the file it came from, or "<defaults>"
    state_dir: Path
    database: DatabaseConfig
    readers: tuple[ReaderConfig, ...] = ()
    timezone: str = "UTC"
    locale: str = "en"
    templates: Mapping[str, str] = field(default_factory=dict)
    duplicate_window_s: float = 5.0
    log_level: str = "info"
    on_role_mismatch: RoleMismatch = "trust-config"
    heartbeat_ms: int = 1000
    spool: SpoolConfig = field(default_factory=SpoolConfig)
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    # This gateway's name in the central database (events, unknown swipes, `gateways`).
    gateway_id: str = "default"
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    original: OriginalConfig = field(default_factory=OriginalConfig)
    web: WebConfig = field(default_factory=WebConfig)
    register: RegisterConfig = field(default_factory=RegisterConfig)

    @property
    def session_secret_path(self) -> Path:
        return self.web.session_secret_file or self.state_dir / "web-session.key"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def reader(self, name: str) -> ReaderConfig | None:
        return next((r for r in self.readers if r.name == name), None)


def default_state_dir(*, service: bool = False) -> Path:
    """Where state lives when the file does not say.

    $CLOCK_GATEWAY_STATE_DIR, then systemd's $STATE_DIRECTORY; then the service's
    directory for root and for anyone using the service's configuration file, so that
    `sudo clock-gateway db init` and the daemon agree; else the XDG state directory.
    """
    if env := os.environ.get(ENV_STATE_DIR):
        return Path(env)
    if env := os.environ.get("STATE_DIRECTORY"):  # set by systemd's StateDirectory=
        return Path(env.split(":")[0])
    if service or os.geteuid() == 0:
        return SERVICE_STATE_DIR
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "clock-gateway"


def is_service_config(path: str | Path | None) -> bool:
    """Is this the service's configuration file (/etc/clock-gateway/config.toml)?"""
    if path is None or str(path).startswith("<"):
        return False
    try:
        return Path(path).resolve() == SERVICE_CONFIG.resolve()
    except OSError:
        return False


def user_config_path() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "clock-gateway" / "config.toml"


def find_config_path(explicit: str | None) -> Path | None:
    """--config, then $CLOCK_GATEWAY_CONFIG, then the per-user file, then /etc."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get(ENV_CONFIG):
        return Path(env)
    for candidate in (user_config_path(), SERVICE_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | None = None) -> Config:
    """Load and validate the configuration; built-in defaults when there is no file."""
    path = find_config_path(explicit)
    if path is None:
        return parse_config({}, "<defaults>")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), None, "file not found") from None
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), None, f"TOML syntax error: {exc}") from None
    return parse_config(data, str(path))


T = TypeVar("T")


class _Section:
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
            names = " or ".join(_type_name(k) for k in kinds)
            self.fail(name, f"must be {names}, got {_type_name(type(value))} {value!r}")
            return default
        if check and (problem := check(value)):
            self.fail(name, problem)
            return default
        return value

    def table(self, name: str) -> _Section:
        self.seen.add(name)
        return _Section(self.source, self.key(name), self.data.get(name, {}), self.problems)

    def finish(self) -> None:
        for unknown in sorted(set(self.data) - self.seen):
            self.fail(unknown, "unknown key")


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }.get(kind, kind.__name__)


def _one_of(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}; got {value!r}"

    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value}"


def _seconds(lowest: float, highest: float, why: str = "") -> Callable[[Any], str | None]:
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


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else f"must be 0 or more, got {value}"


def _wait_s(value: Any) -> str | None:
    if math.isfinite(value) and 0 < value <= MAX_WAIT_S:
        return None
    return (
        f"must be more than 0 and at most {MAX_WAIT_S:g} seconds (the reader is promised "
        f"an answer within 3 s), got {value}"
    )


def _state_dir(value: Any) -> str | None:
    return None if value.strip() else "must not be empty (leave it out for the default)"


def _timezone(value: Any) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r} (use an IANA name such as Europe/Madrid)"
    return None


def _database_url(value: Any) -> str | None:
    if not re.match(r"^(postgresql|postgres|sqlite)(\+\w+)?://", value):
        return "must be a postgresql://... or sqlite:///... URL"
    return database_url_problem(value)


def database_url_problem(url: str) -> str | None:
    """What is wrong with the URL's host part (its port), or None; never names a secret."""
    # The host part follows the userinfo's last '@' (see gateway.redact).
    hostpart = url.partition("://")[2].rpartition("@")[2]
    netloc = re.split(r"[/?]", hostpart, maxsplit=1)[0]
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


def _gateway_id(value: Any) -> str | None:
    if GATEWAY_ID.match(value):
        return None
    return "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"


def default_gateway_id() -> str:
    """The host name, cut to what a gateway id may hold (its first label, 63 characters)."""
    name = socket.gethostname().split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).lstrip("._-")[:63]
    return cleaned or "gateway"


def _postgres_url(value: Any) -> str | None:
    if re.match(r"^(postgresql|postgres)(\+\w+)?://", value):
        return None
    return "must be a postgresql://... URL"


def _listen(value: Any) -> str | None:
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


def parse_config(data: Mapping[str, Any], source: str) -> Config:
    """Validate a parsed TOML document; raise one ConfigError listing every problem."""
    problems: list[ConfigError] = []
    root = _Section(source, "", dict(data), problems)

    gw = root.table("gateway")
    state_dir_raw = gw.get("state_dir", str, check=_state_dir)
    state_dir = (
        Path(state_dir_raw).expanduser()
        if state_dir_raw
        else default_state_dir(service=is_service_config(source))
    )
    timezone = gw.get("timezone", str, "UTC", check=_timezone)
    log_level = gw.get("log_level", str, "info", check=_one_of(LOG_LEVELS))
    window = float(
        gw.get("duplicate_window_s", (int, float), 5.0, check=_seconds(0, MAX_DUPLICATE_WINDOW_S))
    )
    mismatch = gw.get(
        "on_role_mismatch", str, "trust-config", check=_one_of(("trust-config", "refuse"))
    )
    heartbeat_ms = gw.get(
        "heartbeat_ms",
        int,
        1000,
        check=lambda v: None if 100 <= v <= 60000 else "must be between 100 and 60000",
    )
    gateway_id = gw.get("id", str, check=_gateway_id) or default_gateway_id()
    gw.finish()

    db = root.table("database")
    env_url = os.environ.get(ENV_DATABASE_URL)
    url = db.get("url", str, check=_database_url)
    if env_url:
        if problem := _database_url(env_url):
            problems.append(ConfigError(f"${ENV_DATABASE_URL}", None, problem))
        url = env_url
    if not url:
        url = f"sqlite:///{state_dir / 'clock-gateway.db'}"
    database = DatabaseConfig(
        url=url,
        wait_s=float(db.get("wait_s", (int, float), 1.0, check=_wait_s)),
        directory_refresh_s=float(
            db.get(
                "directory_refresh_s",
                (int, float),
                60.0,
                check=_seconds(MIN_DIRECTORY_REFRESH_S, MAX_DIRECTORY_REFRESH_S),
            )
        ),
    )
    db.finish()

    msgs = root.table("messages")
    locale = msgs.get("locale", str, "en", check=_one_of(LOCALES))
    tpl = msgs.table("templates")
    templates = {
        key: tpl.get(key, str, "", check=template_problem)
        for key in MESSAGE_KEYS
        if key in tpl.data
    }
    tpl.finish()
    msgs.finish()

    sp = root.table("spool")
    spool = SpoolConfig(
        max_events=sp.get("max_events", int, 1_000_000, check=_positive),
        warn_ratio=float(
            sp.get(
                "warn_ratio",
                (int, float),
                0.9,
                check=lambda v: None if 0 < v <= 1 else "must be in (0, 1]",
            )
        ),
        show_offline=sp.get("show_offline", bool, True),
    )
    sp.finish()

    pr = root.table("presence")
    rooms = pr.get("excluded_rooms", list, [])
    for i, room in enumerate(rooms):
        if not isinstance(room, str):
            pr.fail(f"excluded_rooms[{i}]", "must be a string")
    presence = PresenceConfig(
        excluded_rooms=tuple(rooms),
        late_grace_min=pr.get("late_grace_min", int, 5, check=_non_negative),
        rule=pr.get("rule", str, "midnight", check=_one_of(("midnight", "shift"))),
        shifts=_spans(pr, "shifts", ORIGINAL_SHIFTS),
    )
    pr.finish()

    mt = root.table("metrics")
    listen_raw = mt.get("listen", str, check=lambda v: None if v == "" else _listen(v))
    metrics = MetricsConfig(listen=parse_listen(listen_raw) if listen_raw else None)
    mt.finish()

    fl = root.table("fleet")
    notify_url = fl.get("notify_url", str, check=_postgres_url)
    if env_notify := os.environ.get(ENV_NOTIFY_URL):
        if problem := _postgres_url(env_notify):
            raise ConfigError(f"${ENV_NOTIFY_URL}", None, problem)
        notify_url = env_notify
    fleet = FleetConfig(
        heartbeat_s=float(fl.get("heartbeat_s", (int, float), 15.0, check=_seconds(1, 3600))),
        silent_after_s=float(
            fl.get("silent_after_s", (int, float), 120.0, check=_seconds(2, 7 * 86400))
        ),
        notify_url=notify_url or None,
    )
    if fleet.silent_after_s <= fleet.heartbeat_s:
        fl.fail("silent_after_s", "must be longer than fleet.heartbeat_s")
    fl.finish()
    og = root.table("original")
    original = OriginalConfig(slots=_spans(og, "slots", ORIGINAL_SLOTS))
    og.finish()
    web = _parse_web(root)
    register = _parse_register(root)

    readers = _parse_readers(root, source)
    root.finish()
    if problems:
        raise ConfigError.many(source, problems)

    return Config(
        source=source,
        state_dir=state_dir,
        database=database,
        readers=readers,
        timezone=timezone,
        locale=locale,
        templates=templates,
        duplicate_window_s=window,
        log_level=log_level,
        on_role_mismatch=mismatch,
        heartbeat_ms=heartbeat_ms,
        spool=spool,
        presence=presence,
        gateway_id=gateway_id,
        metrics=metrics,
        fleet=fleet,
        original=original,
        web=web,
        register=register,
    )


_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _spans(
    section: _Section, name: str, default: tuple[tuple[time, time], ...]
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
        match = _SPAN.match(item) if isinstance(item, str) else None
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


def _parse_web(root: _Section) -> WebConfig:
    sec = root.table("web")
    bind = sec.get("bind", str, "127.0.0.1", check=lambda v: None if v.strip() else "empty")
    port = sec.get(
        "port", int, 8080, check=lambda v: None if 1 <= v <= 65535 else "must be 1-65535"
    )
    token = sec.get(
        "board_token",
        str,
        None,
        check=lambda v: (
            None
            if _BOARD_TOKEN.match(v)
            else "must be 16-128 letters, digits, '-' or '_' (e.g. from "
            "'python3 -c \"import secrets; print(secrets.token_urlsafe(24))\"')"
        ),
    )
    secret = sec.get("session_secret_file", str, check=lambda v: None if v else "empty path")
    hours = float(
        sec.get(
            "session_hours",
            (int, float),
            12.0,
            check=lambda v: None if 0 < v <= 24 * 30 else "must be in (0, 720]",
        )
    )
    years = sec.get(
        "retention_years",
        int,
        MIN_RETENTION_YEARS,
        check=lambda v: (
            None
            if v >= MIN_RETENTION_YEARS
            else f"must be {MIN_RETENTION_YEARS} or more: Spanish law keeps working-time "
            f"records {MIN_RETENTION_YEARS} years"
        ),
    )
    idle = float(
        sec.get(
            "session_idle_minutes",
            (int, float),
            60.0,
            check=lambda v: None if 1 <= v <= 24 * 30 * 60 else "must be from 1 to 43200",
        )
    )
    total = sec.get(
        "max_connections",
        int,
        1000,
        check=lambda v: None if 16 <= v <= 100_000 else "must be 16-100000",
    )
    per_address = sec.get(
        "max_connections_per_address",
        int,
        50,
        check=lambda v: None if 1 <= v <= 100_000 else "must be 1-100000",
    )
    if per_address > total:
        sec.fail("max_connections_per_address", f"must not exceed max_connections ({total})")
    temp = sec.get("temp_dir", str, check=lambda v: None if v else "empty path")
    web = WebConfig(
        bind=bind.strip(),
        port=port,
        board_token=token,
        session_secret_file=Path(secret).expanduser() if secret else None,
        session_hours=hours,
        session_idle_minutes=idle,
        secure_cookies=sec.get("secure_cookies", bool, False),
        retention_years=years,
        board=sec.get("board", str, "initials", check=_one_of(BOARD_MODES)),
        max_connections=total,
        max_connections_per_address=per_address,
        keepalive_timeout_s=float(
            sec.get("keepalive_timeout_s", (int, float), 5.0, check=_seconds(0.5, 300))
        ),
        header_timeout_s=float(
            sec.get("header_timeout_s", (int, float), 10.0, check=_seconds(0.5, 300))
        ),
        body_timeout_s=float(
            sec.get("body_timeout_s", (int, float), 10.0, check=_seconds(0.5, 3600))
        ),
        temp_dir=Path(temp).expanduser() if temp else None,
    )
    sec.finish()
    return web


def _parse_register(root: _Section) -> RegisterConfig:
    sec = root.table("register")
    place = sec.get("jurisdiction", str, "ES", check=_one_of(tuple(RETENTION_BY_JURISDICTION)))
    minimum = RETENTION_BY_JURISDICTION.get(place, max(RETENTION_BY_JURISDICTION.values()))
    years = sec.get(
        "retention_years",
        int,
        None,
        check=lambda v: (
            None
            if minimum <= v <= 100
            else f"must be from {minimum} (the legal minimum in {place}) to 100, got {v}"
        ),
    )
    # Before [register] existed the setting was web.retention_years: still obeyed, once.
    web = root.data.get("web")
    old = web.get("retention_years") if isinstance(web, dict) else None
    if isinstance(old, int) and not isinstance(old, bool):
        if years is None and "retention_years" not in sec.data:
            years = max(old, minimum)
        elif years is not None and years != old:
            sec.fail("retention_years", "set it here only (web.retention_years is its old name)")
    seal = sec.get("seal", bool, True)
    sec.finish()
    return RegisterConfig(jurisdiction=place, retention_years=years or minimum, seal=seal)


def _parse_readers(root: _Section, source: str) -> tuple[ReaderConfig, ...]:
    raw = root.get("readers", list, [])
    readers: list[ReaderConfig] = []
    names: set[str] = set()
    ports: set[str] = set()
    for i, entry in enumerate(raw):
        sec = _Section(source, f"readers[{i}]", entry, root.problems)
        name = sec.get(
            "name",
            str,
            required=True,
            check=lambda v: (
                None if _READER_NAME.match(v) else "must be 1-32 letters, digits, '.', '_' or '-'"
            ),
        )
        port = sec.get(
            "port", str, required=True, check=lambda v: None if v.strip() else "must not be empty"
        )
        role = sec.get("role", str, required=True, check=_one_of(("in", "out")))
        baud = sec.get(
            "baud",
            int,
            115200,
            check=lambda v: (
                None
                if v in SUPPORTED_BAUDS
                else f"must be one of {', '.join(map(str, SUPPORTED_BAUDS))}"
            ),
        )
        sec.finish()
        if name is not None and name in names:
            sec.fail("name", f"duplicate reader name {name!r}")
        if port is not None and port in ports:
            sec.fail("port", f"port {port!r} is already used by another reader")
        names.add(name)
        ports.add(port)
        # A bad role was recorded as a problem and the whole file is refused below;
        # IN only keeps this (discarded) reader constructible meanwhile.
        direction = Direction(role) if role else Direction.IN
        readers.append(ReaderConfig(name=name, port=port, role=direction, baud=baud))
    return tuple(readers)
