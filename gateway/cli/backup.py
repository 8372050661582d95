"""`clock-gateway backup DIR` / `clock-gateway restore DIR`: the database and the state.

Commands rather than scripts: they resolve the configuration, the env file and the
state directory exactly as the service and every other admin command do, work the
same on both backends, and fail with one line.

A backup directory holds:
  database.sqlite   the SQLite database, through SQLite's online backup API (the
                    daemon may keep writing: the copy is one consistent snapshot)
  database.pgdump   or PostgreSQL's, from pg_dump in its custom format (consistent too)
  state/            the spool (acknowledged swipes not yet in the database) and the
                    last-known card directory, copied file by file
  manifest.json     what is there, with sizes and SHA-256 sums, checked before a restore

Restore wants the service stopped (it holds the spool's lock while it works), puts
the database back, and puts the saved spool in place of the current one, which is
kept beside it (`spool.before-restore-<time>`), never deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.cli.common import add_config_option, add_json_option, config_from_args, print_json
from gateway.config import Config, redact_url
from gateway.errors import ConflictError, GatewayError, InvalidInputError, UsageError

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
STATE = "state"
# What of the state directory is saved: the spool and the card directory. Not the
# status file (it describes a process) nor the spool's lock.
SPOOL = "spool"
STATE_FILES = ("card-directory.json",)
SKIP = {"lock"}


class BackupError(GatewayError):
    pass


def register(subparsers: Any) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="save the database, the spool and the card directory to a directory",
        description="Save the database (SQLite online backup or pg_dump), the spool and "
        "the card directory into DIR, which must be new or empty. The service may run.",
    )
    backup.add_argument("dir", metavar="DIR", help="where to write the backup (new or empty)")
    add_config_option(backup)
    add_json_option(backup)
    backup.set_defaults(func=_backup)
    restore = subparsers.add_parser(
        "restore",
        help="put a backup made by 'backup' back (stop the service first)",
        description="Check DIR's manifest, then replace the database's contents and the "
        "spool with the backup's. The current spool is kept beside it. The service must "
        "be stopped (systemctl stop clock-gateway).",
    )
    restore.add_argument("dir", metavar="DIR", help="a directory written by 'backup'")
    add_config_option(restore)
    add_json_option(restore)
    restore.set_defaults(func=_restore)


# -- backup ------------------------------------------------------------------------------


def _backup(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    target = Path(args.dir)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} exists and is not an empty directory")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)  # it holds personal data
    backend = _backend(config)
    if backend == "sqlite":
        _sqlite_copy(_sqlite_file(config), target / SQLITE_FILE, must_exist=True)
    else:
        _pg_dump(config.database.url, target / PG_FILE)
    _copy_state(config.state_dir, target / STATE)
    manifest = {
        "format": 1,
        "clock_gateway": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "backend": backend,
        "database": redact_url(config.database.url),
        "files": _sums(target),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    _report(args, "backup", target, manifest)
    return 0


def _copy_state(state_dir: Path, dest: Path) -> None:
    dest.mkdir()
    spool = state_dir / SPOOL
    if spool.is_dir():
        # Segments are append-only and the checkpoint is rewritten in place: a copy
        # taken while the daemon appends can miss the swipes of that instant, which
        # the database then holds (the spool is empty while the database is up).
        shutil.copytree(spool, dest / SPOOL, ignore=lambda _d, names: SKIP & set(names))
    for name in STATE_FILES:
        if (state_dir / name).is_file():
            shutil.copy2(state_dir / name, dest / name)


# -- restore -----------------------------------------------------------------------------


def _restore(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    source = Path(args.dir)
    manifest = _checked_manifest(source)
    backend = _backend(config)
    if manifest["backend"] != backend:
        raise UsageError(
            f"{source} holds a {manifest['backend']} backup; the configuration uses {backend}"
        )
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    with _spool_locked(config.state_dir):
        if backend == "sqlite":
            _sqlite_copy(source / SQLITE_FILE, _sqlite_file(config), must_exist=True)
        else:
            _pg_restore(config.database.url, source / PG_FILE)
        kept = _replace_state(source / STATE, config.state_dir)
    manifest["kept_spool"] = str(kept) if kept else None
    _report(args, "restore", source, manifest)
    return 0


@contextlib.contextmanager
def _spool_locked(state_dir: Path) -> Iterator[None]:
    """Hold the spool's lock: a running daemon holds it, and none can start meanwhile."""
    spool = state_dir / SPOOL
    spool.mkdir(exist_ok=True, mode=0o750)
    fd = os.open(spool / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a conflict (exit 5), as the README's table says
            raise ConflictError(
                f"clock-gateway is running on {state_dir}: stop it first "
                "(sudo systemctl stop clock-gateway)"
            ) from None
        yield
    finally:
        os.close(fd)


def _replace_state(saved: Path, state_dir: Path) -> Path | None:
    spool = state_dir / SPOOL
    kept: Path | None = None
    if any(p.name not in SKIP for p in spool.iterdir()):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = state_dir / f"spool.before-restore-{stamp}"
        kept.mkdir()
        for entry in spool.iterdir():
            if entry.name not in SKIP:
                entry.rename(kept / entry.name)
    if (saved / SPOOL).is_dir():
        for entry in (saved / SPOOL).iterdir():
            shutil.copy2(entry, spool / entry.name)
            _fsync(spool / entry.name)
        _fsync(spool)
    for name in STATE_FILES:
        if (saved / name).is_file():
            shutil.copy2(saved / name, state_dir / name)
    return kept


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _checked_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{source}: no {MANIFEST}: not a clock-gateway backup") from None
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{source / MANIFEST}: unreadable: {exc}") from None
    if manifest.get("format") != 1 or manifest.get("backend") not in ("sqlite", "postgresql"):
        raise InvalidInputError(f"{source / MANIFEST}: not a backup format this version reads")
    actual = _sums(source)
    for name, expected in manifest.get("files", {}).items():
        if actual.get(name) != expected:
            raise InvalidInputError(f"{source}: {name} is missing or changed since the backup")
    return manifest


def _sums(root: Path) -> dict[str, dict[str, Any]]:
    sums = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        name = path.relative_to(root).as_posix()
        sums[name] = {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    return sums


# -- the two backends --------------------------------------------------------------------


def _backend(config: Config) -> str:
    from gateway.store.engine import normalise_url  # here: loads SQLAlchemy

    name = normalise_url(config.database.url).get_backend_name()
    return "sqlite" if name == "sqlite" else "postgresql"


def _sqlite_file(config: Config) -> Path:
    from gateway.store.engine import normalise_url, sqlite_path

    path = sqlite_path(normalise_url(config.database.url))
    if path is None:
        raise UsageError("an in-memory SQLite database cannot be backed up")
    return path


def _sqlite_copy(source: Path, dest: Path, *, must_exist: bool) -> None:
    """SQLite's online backup API: a consistent copy even while another process writes."""
    if must_exist and not source.is_file():
        raise BackupError(f"{source}: no such database (run 'clock-gateway db init')")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(dest, timeout=30)
            try:
                src.backup(dst)
                # The backup API copies pages as they are: a file corrupted mid-file
                # gives a malformed copy, which must not get a manifest.
                found = dst.execute("PRAGMA quick_check").fetchall()
            finally:
                dst.close()
            if found != [("ok",)]:
                dest.unlink(missing_ok=True)
                raise BackupError(f"{source} is damaged (quick_check: {found[0][0]}): no backup")
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup from {source} to {dest} failed: {exc}") from None


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A conninfo without the password, and the password in the environment: a
    command line is visible to every user in `ps`."""
    from psycopg.conninfo import make_conninfo

    from gateway.store.engine import normalise_url

    parsed = normalise_url(url)
    params: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "dbname": parsed.database,
        **{k: v for k, v in parsed.query.items() if isinstance(v, str)},
    }
    password = params.pop("password", None) or parsed.password
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: v for k, v in params.items() if v is not None}), env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=_major)
    if versions:
        return str(versions[-1])
    raise BackupError(f"{name} not found: sudo apt-get install postgresql-client")


def _major(path: Path) -> int:
    return int(path.parts[-3]) if path.parts[-3].isdigit() else 0


def _pg_dump(url: str, dest: Path) -> None:
    conninfo, env = _libpq(url)
    _run([_pg_tool("pg_dump"), "--format=custom", f"--file={dest}", conninfo], env, "pg_dump")


def _pg_restore(url: str, source: Path) -> None:
    conninfo, env = _libpq(url)
    # --clean --if-exists: the backup's tables replace the current ones; one transaction,
    # so a failure leaves the database as it was.
    command = [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner"]
    command += ["--single-transaction", "--exit-on-error", f"--dbname={conninfo}", str(source)]
    _run(command, env, "pg_restore")


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"{what} could not run: {exc.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        detail = redact_url(lines[-1]) if lines else f"exit status {done.returncode}"
        raise BackupError(f"{what} failed: {detail}")


def _report(args: argparse.Namespace, verb: str, where: Path, manifest: dict[str, Any]) -> None:
    files = manifest["files"]
    spooled = sum(1 for name in files if name.startswith(f"{STATE}/{SPOOL}/"))
    if args.json:
        print_json({"action": verb, "dir": str(where), **manifest})
        return
    size = sum(f["bytes"] for f in files.values())
    print(
        f"{verb}: {manifest['backend']} database and {spooled} spool file(s), "
        f"{size} bytes, {'to' if verb == 'backup' else 'from'} {where}"
    )
    if manifest.get("kept_spool"):
        print(f"the spool that was in place is kept in {manifest['kept_spool']}")
