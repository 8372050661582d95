"""The configuration file: one TOML file, validated up front, immutable afterwards.

Every problem is reported as a `ConfigError` naming the file, the key and what is
wrong, so `clock-gateway` can print one line and exit with `ExitCode.CONFIG`.
The database URL can come from the environment so that secrets never have to live
in the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gateway.config.database import (
    ENV_DATABASE_URL as ENV_DATABASE_URL,
)
from gateway.config.database import (
    MAX_DIRECTORY_REFRESH_S as MAX_DIRECTORY_REFRESH_S,
)
from gateway.config.database import (
    MIN_DIRECTORY_REFRESH_S as MIN_DIRECTORY_REFRESH_S,
)
from gateway.config.database import (
    POOLERS as POOLERS,
)
from gateway.config.database import (
    DatabaseConfig as DatabaseConfig,
)
from gateway.config.database import (
    Pooler as Pooler,
)
from gateway.config.database import (
    parse_database,
)
from gateway.config.fields import (
    GATEWAY_ID as GATEWAY_ID,
)
from gateway.config.fields import (
    MAX_WAIT_S as MAX_WAIT_S,
)
from gateway.config.fields import (
    Section,
    check_gateway_id,
    check_listen,
    check_non_negative,
    check_positive,
    check_postgres_url,
    check_seconds,
    check_state_dir,
    check_timezone,
    clock_spans,
    one_of,
)
from gateway.config.fields import (
    database_url_problem as database_url_problem,
)
from gateway.config.fields import (
    default_gateway_id as default_gateway_id,
)
from gateway.config.fields import (
    parse_listen as parse_listen,
)
from gateway.config.fields import (
    template_problem as template_problem,
)
from gateway.config.mail import MailConfig, parse_mail
from gateway.config.register import RETENTION_BY_JURISDICTION as RETENTION_BY_JURISDICTION
from gateway.config.register import RegisterConfig, parse_register
from gateway.config.uploads import UploadLimits, parse_upload_limits
from gateway.config.worktime import BreakRule as BreakRule
from gateway.config.worktime import WorkTimeRules as WorkTimeRules
from gateway.domain import Direction
from gateway.errors import ConfigError
from gateway.redact import redact_url as redact_url  # re-exported: callers import it here

Role = Literal["in", "out"]
RoleMismatch = Literal["trust-config", "refuse"]

ENV_CONFIG = "CLOCK_GATEWAY_CONFIG"
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
MAX_CONFIG_BYTES = 1024 * 1024  # a real config is a few KiB; /dev/zero is endless
MAX_DUPLICATE_WINDOW_S = 3600.0  # a longer window would swallow real punches
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
    # What the board shows (README, "What the board shows"): full names, initials, counts, or
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
    uploads: UploadLimits = field(default_factory=UploadLimits)  # [web] upload_* (uploads.py)


@dataclass(frozen=True)
class Config:
    source: str  # the file it came from, or "<defaults>"
    state_dir: Path
    database: DatabaseConfig
    readers: tuple[ReaderConfig, ...] = ()
    timezone: str = "UTC"
    locale: str = "en"
    templates: Mapping[str, str] = field(default_factory=dict)
    # On a clock-out the LCD's second line shows the day's net time so far (Hoy 7:32).
    show_day_total: bool = True
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
    mail: MailConfig = field(default_factory=MailConfig)

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


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refusing more than MAX_CONFIG_BYTES.

    A config path that is /dev/zero, a FIFO fed forever or a multi-gigabyte file
    would otherwise be read whole (a MemoryError traceback, or a hang).
    """
    with path.open("rb") as handle:
        raw = handle.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            str(path), None, f"larger than {MAX_CONFIG_BYTES // 1024} KiB: not a configuration file"
        )
    return raw


def load_config(explicit: str | None = None) -> Config:
    """Load and validate the configuration; built-in defaults when there is no file."""
    path = find_config_path(explicit)
    if path is None:
        return parse_config({}, "<defaults>")
    try:
        raw = _read_bounded(path)
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


def parse_config(data: Mapping[str, Any], source: str) -> Config:
    """Validate a parsed TOML document; raise one ConfigError listing every problem."""
    problems: list[ConfigError] = []
    root = Section(source, "", dict(data), problems)

    gw = root.table("gateway")
    state_dir_raw = gw.get("state_dir", str, check=check_state_dir)
    state_dir = (
        Path(state_dir_raw).expanduser()
        if state_dir_raw
        else default_state_dir(service=is_service_config(source))
    )
    timezone = gw.get("timezone", str, "UTC", check=check_timezone)
    log_level = gw.get("log_level", str, "info", check=one_of(LOG_LEVELS))
    window = float(
        gw.get(
            "duplicate_window_s", (int, float), 5.0, check=check_seconds(0, MAX_DUPLICATE_WINDOW_S)
        )
    )
    mismatch = gw.get(
        "on_role_mismatch", str, "trust-config", check=one_of(("trust-config", "refuse"))
    )
    heartbeat_ms = gw.get(
        "heartbeat_ms",
        int,
        1000,
        check=lambda v: None if 100 <= v <= 60000 else "must be between 100 and 60000",
    )
    gateway_id = gw.get("id", str, check=check_gateway_id) or default_gateway_id()
    gw.finish()

    database = parse_database(root, state_dir)

    msgs = root.table("messages")
    locale = msgs.get("locale", str, "en", check=one_of(LOCALES))
    tpl = msgs.table("templates")
    templates = {
        key: tpl.get(key, str, "", check=template_problem)
        for key in MESSAGE_KEYS
        if key in tpl.data
    }
    tpl.finish()
    show_day_total = msgs.get("show_day_total", bool, True)
    msgs.finish()

    sp = root.table("spool")
    spool = SpoolConfig(
        max_events=sp.get("max_events", int, 1_000_000, check=check_positive),
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
        late_grace_min=pr.get("late_grace_min", int, 5, check=check_non_negative),
        rule=pr.get("rule", str, "midnight", check=one_of(("midnight", "shift"))),
        shifts=clock_spans(pr, "shifts", ORIGINAL_SHIFTS),
    )
    pr.finish()

    mt = root.table("metrics")
    listen_raw = mt.get("listen", str, check=lambda v: None if v == "" else check_listen(v))
    metrics = MetricsConfig(listen=parse_listen(listen_raw) if listen_raw else None)
    mt.finish()

    fl = root.table("fleet")
    notify_url = fl.get("notify_url", str, check=check_postgres_url)
    if env_notify := os.environ.get(ENV_NOTIFY_URL):
        if problem := check_postgres_url(env_notify):
            raise ConfigError(f"${ENV_NOTIFY_URL}", None, problem)
        notify_url = env_notify
    fleet = FleetConfig(
        heartbeat_s=float(fl.get("heartbeat_s", (int, float), 15.0, check=check_seconds(1, 3600))),
        silent_after_s=float(
            fl.get("silent_after_s", (int, float), 120.0, check=check_seconds(2, 7 * 86400))
        ),
        notify_url=notify_url or None,
    )
    if fleet.notify_url and not database.listen_url:
        # [fleet] notify_url, the older spelling: the web's LISTEN follows it too.
        database = replace(database, listen_url=fleet.notify_url)
    if fleet.silent_after_s <= fleet.heartbeat_s:
        fl.fail("silent_after_s", "must be longer than fleet.heartbeat_s")
    fl.finish()
    og = root.table("original")
    original = OriginalConfig(slots=clock_spans(og, "slots", ORIGINAL_SLOTS))
    og.finish()
    web = _parse_web(root)
    register = parse_register(root)
    mail = parse_mail(root)

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
        show_day_total=show_day_total,
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
        mail=mail,
    )


def _parse_web(root: Section) -> WebConfig:
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
        board=sec.get("board", str, "initials", check=one_of(BOARD_MODES)),
        max_connections=total,
        max_connections_per_address=per_address,
        keepalive_timeout_s=float(
            sec.get("keepalive_timeout_s", (int, float), 5.0, check=check_seconds(0.5, 300))
        ),
        header_timeout_s=float(
            sec.get("header_timeout_s", (int, float), 10.0, check=check_seconds(0.5, 300))
        ),
        body_timeout_s=float(
            sec.get("body_timeout_s", (int, float), 10.0, check=check_seconds(0.5, 3600))
        ),
        temp_dir=Path(temp).expanduser() if temp else None,
        uploads=parse_upload_limits(sec),
    )
    sec.finish()
    return web


def _parse_readers(root: Section, source: str) -> tuple[ReaderConfig, ...]:
    raw = root.get("readers", list, [])
    readers: list[ReaderConfig] = []
    names: set[str] = set()
    ports: set[str] = set()
    for i, entry in enumerate(raw):
        sec = Section(source, f"readers[{i}]", entry, root.problems)
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
        role = sec.get("role", str, required=True, check=one_of(("in", "out")))
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
