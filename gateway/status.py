"""The daemon's status file: what `clock-gateway status` shows.

The running daemon looks at its state every second and rewrites `status.json` in its
state directory when something changed (readers' link states, spool depth, last
database write, ...), and otherwise every LIVENESS_EVERY_S as a sign of life (with
256 idle readers, rewriting the whole file every second was a quarter of the daemon's
idle CPU); the CLI reads it. A file rather than a socket: nothing to serve, it
survives the daemon (so `status` can say what the daemon last knew and that it is
gone), and it can be read without privileges the daemon holds. The write is atomic
(tmp + rename), so a reader never sees half a file; it is not fsync'd because it is
rewritten every few seconds and losing it at a power cut costs nothing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway import __version__
from gateway.durable.atomic import atomic_write
from gateway.errors import GatewayError

if TYPE_CHECKING:  # not at run time: `clock-gateway status` need not load SQLAlchemy
    from gateway.recording.recorder import RecorderStats

FILE_NAME = "status.json"
FORMAT_VERSION = 1
# A live daemon rewrites the file at least this often, changed or not.
LIVENESS_EVERY_S = 4.0
# This much silence (more than two missed refreshes) means the daemon is stuck.
STALE_AFTER_S = 10.0


@dataclass(frozen=True)
class ReaderStatus:
    name: str
    port: str
    role: str  # "in" or "out"
    link_state: str  # the daemon's word for it: "connected", "reconnecting", ...
    since: datetime | None = None  # when link_state last changed
    hardware_id: str | None = None  # hex, from the reader's HELLO
    firmware: str | None = None  # "1.2.3", from HELLO
    last_swipe_at: datetime | None = None
    last_swipe: str | None = None  # short outcome, e.g. "in_ok", "unknown_card"


@dataclass(frozen=True)
class RegisterStatus:
    """The register's sealer, as the daemon last saw it (gateway/daemon/sealer.py)."""

    unsealed: int = 0  # rows seen stored and not sealed yet
    sealed_at: datetime | None = None  # the last round that found nothing left to seal
    head_seq: int | None = None  # the chain's last seal
    error: str | None = None  # why the last round failed (the database away, ...)


@dataclass(frozen=True)
class StatusSnapshot:
    pid: int
    started_at: datetime
    readers: tuple[ReaderStatus, ...] = ()
    spool_depth: int = 0
    spool_max: int = 0
    dead_letters: int = 0
    database_ok: bool = True
    last_db_write_at: datetime | None = None
    directory_age_s: float | None = None
    directory_cards: int = 0
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stopped_at: datetime | None = None  # set by a clean shutdown
    version: str = ""
    # Liveness by the monotonic clock (CLOCK_MONOTONIC is one clock for every process
    # of a boot), so that a stepped wall clock neither fakes nor hides a stuck daemon.
    updated_mono: float | None = None
    boot_id: str | None = None
    spool_error: str | None = None  # the spool cannot take appends (e.g. its files gone)
    register: RegisterStatus | None = None  # None: no sealer (yet)


def snapshot_of(
    started_at: datetime,
    readers: tuple[ReaderStatus, ...],
    stats: RecorderStats | None,
    *,
    stopped: bool = False,
    register: RegisterStatus | None = None,
) -> StatusSnapshot:
    """The snapshot of this process, from the recorder's stats (None before it started)."""
    now = datetime.now(UTC)
    base = StatusSnapshot(
        pid=os.getpid(),
        started_at=started_at,
        readers=readers,
        stopped_at=now if stopped else None,
        version=__version__,
        register=register,
    )
    if stats is None:
        return replace(base, database_ok=False)
    return replace(
        base,
        spool_depth=stats.spool_depth,
        spool_max=stats.spool_max,
        dead_letters=stats.dead_letters,
        database_ok=stats.database_ok,
        last_db_write_at=stats.last_db_write_at,
        directory_age_s=stats.directory_age_s,
        directory_cards=stats.directory_cards,
        spool_error=stats.spool_error,
    )


class DaemonState(StrEnum):
    RUNNING = "running"
    NOT_RESPONDING = "not_responding"  # process alive, status not updated
    STOPPED = "stopped"  # shut down cleanly
    GONE = "gone"  # the process is not there (crashed or killed)


class StatusFileError(GatewayError):
    pass


# -- writing ----------------------------------------------------------------------------


def status_path(state_dir: Path) -> Path:
    return state_dir / FILE_NAME


def write_status(state_dir: Path, snapshot: StatusSnapshot) -> None:
    """Replace the status file atomically (blocking: async callers use a thread)."""
    path = status_path(state_dir)
    snapshot = replace(
        snapshot, updated_at=datetime.now(UTC), updated_mono=time.monotonic(), boot_id=boot_id()
    )
    data = json.dumps(to_json(snapshot), ensure_ascii=False, indent=1).encode("utf-8")
    state_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data, durable=False)


def to_json(snapshot: StatusSnapshot) -> dict[str, Any]:
    # Built field by field: dataclasses.asdict deep-copies every value, which for 256
    # readers cost more than the rest of the write.
    return {
        "pid": snapshot.pid,
        "started_at": _stamp(snapshot.started_at),
        "readers": [_reader_json(r) for r in snapshot.readers],
        "spool_depth": snapshot.spool_depth,
        "spool_max": snapshot.spool_max,
        "dead_letters": snapshot.dead_letters,
        "database_ok": snapshot.database_ok,
        "last_db_write_at": _stamp(snapshot.last_db_write_at),
        "directory_age_s": snapshot.directory_age_s,
        "directory_cards": snapshot.directory_cards,
        "updated_at": _stamp(snapshot.updated_at),
        "stopped_at": _stamp(snapshot.stopped_at),
        "version": snapshot.version,
        "spool_error": snapshot.spool_error,
        "updated_mono": snapshot.updated_mono,
        "boot_id": snapshot.boot_id,
        "register": _register_json(snapshot.register),
        "format": FORMAT_VERSION,
    }


def _register_json(r: RegisterStatus | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "unsealed": r.unsealed,
        "sealed_at": _stamp(r.sealed_at),
        "head_seq": r.head_seq,
        "error": r.error,
    }


def _register_of(doc: Any) -> RegisterStatus | None:
    if not isinstance(doc, dict):
        return None
    head = doc.get("head_seq")
    return RegisterStatus(
        unsealed=int(doc.get("unsealed", 0)),
        sealed_at=_when(doc.get("sealed_at")),
        head_seq=None if head is None else int(head),
        error=_opt_str(doc.get("error")),
    )


def _reader_json(r: ReaderStatus) -> dict[str, Any]:
    return {
        "name": r.name,
        "port": r.port,
        "role": r.role,
        "link_state": r.link_state,
        "since": _stamp(r.since),
        "hardware_id": r.hardware_id,
        "firmware": r.firmware,
        "last_swipe_at": _stamp(r.last_swipe_at),
        "last_swipe": r.last_swipe,
    }


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def same_content(a: StatusSnapshot, b: StatusSnapshot) -> bool:
    """Whether two snapshots differ only in what ages by itself (the write time and the
    card directory's age): nothing worth a rewrite before the next liveness refresh."""
    return (
        replace(
            a,
            updated_at=b.updated_at,
            directory_age_s=b.directory_age_s,
            updated_mono=b.updated_mono,
            boot_id=b.boot_id,
        )
        == b
    )


# -- reading ----------------------------------------------------------------------------


def read_status(state_dir: Path) -> StatusSnapshot | None:
    """The last snapshot the daemon wrote; None when there is no status file."""
    path = status_path(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StatusFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return from_json(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise StatusFileError(f"{path} is not a valid status file: {exc}") from None


def from_json(doc: Any) -> StatusSnapshot:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_VERSION:
        raise ValueError("unknown format")
    readers = tuple(
        ReaderStatus(
            name=str(r["name"]),
            port=str(r["port"]),
            role=str(r["role"]),
            link_state=str(r["link_state"]),
            since=_when(r.get("since")),
            hardware_id=_opt_str(r.get("hardware_id")),
            firmware=_opt_str(r.get("firmware")),
            last_swipe_at=_when(r.get("last_swipe_at")),
            last_swipe=_opt_str(r.get("last_swipe")),
        )
        for r in doc.get("readers", [])
    )
    started = _when(doc["started_at"])
    updated = _when(doc["updated_at"])
    if started is None or updated is None:
        raise ValueError("started_at and updated_at are required")
    age = doc.get("directory_age_s")
    return StatusSnapshot(
        pid=int(doc["pid"]),
        started_at=started,
        readers=readers,
        spool_depth=int(doc.get("spool_depth", 0)),
        spool_max=int(doc.get("spool_max", 0)),
        dead_letters=int(doc.get("dead_letters", 0)),
        database_ok=bool(doc.get("database_ok", False)),
        last_db_write_at=_when(doc.get("last_db_write_at")),
        directory_age_s=None if age is None else float(age),
        directory_cards=int(doc.get("directory_cards", 0)),
        updated_at=updated,
        stopped_at=_when(doc.get("stopped_at")),
        version=str(doc.get("version", "")),
        spool_error=_opt_str(doc.get("spool_error")),
        updated_mono=_opt_float(doc.get("updated_mono")),
        boot_id=_opt_str(doc.get("boot_id")),
        register=_register_of(doc.get("register")),
    )


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    stamp = datetime.fromisoformat(str(value))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def boot_id() -> str | None:
    """This boot's id: monotonic times compare only within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


# -- liveness ---------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user (the service account)
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def daemon_state(
    snapshot: StatusSnapshot, now: datetime | None = None, *, mono_now: float | None = None
) -> DaemonState:
    if snapshot.stopped_at is not None:
        return DaemonState.STOPPED
    if not pid_alive(snapshot.pid):
        return DaemonState.GONE
    return (
        DaemonState.NOT_RESPONDING
        if status_age(snapshot, now, mono_now=mono_now) > STALE_AFTER_S
        else DaemonState.RUNNING
    )


def status_age(
    snapshot: StatusSnapshot, now: datetime | None = None, *, mono_now: float | None = None
) -> float:
    """Seconds since the daemon last wrote its status: by the monotonic clock when the
    file is from this boot (a wall clock stepped by an hour must not make a running
    daemon look stuck, or a stuck one look alive), else by the wall clock."""
    if snapshot.updated_mono is not None and snapshot.boot_id and snapshot.boot_id == boot_id():
        return (time.monotonic() if mono_now is None else mono_now) - snapshot.updated_mono
    return ((now or datetime.now(UTC)) - snapshot.updated_at).total_seconds()
