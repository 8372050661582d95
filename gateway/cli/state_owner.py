"""Files that root creates in the service's state directory go to the service's user.

`sudo clock-gateway db init` creates the SQLite database, and `restore` the spool,
in /var/lib/clock-gateway; owned by root (mode 0600 under the service's umask) the
daemon, which runs as the clock-gateway user, could not open them. After a command
run as root, whatever in a state directory it used is owned by root is handed to the
directory's owner.
"""

from __future__ import annotations

import os
from pathlib import Path

_used: list[Path] = []


def remember_state_dir(path: Path) -> None:
    if path not in _used:
        _used.append(path)


def hand_back_state_files() -> None:
    """Give root-owned files in the used state directories to their directory's owner."""
    if os.geteuid() != 0:
        return
    while _used:
        hand_back(_used.pop())


# The state directory's own entries; nothing else in it (or under it) is touched, so a
# state_dir pointed at a shared directory never gets strangers' files re-owned.
_STATE_NAMES = (
    "clock-gateway.db*",
    "card-directory.json",
    "status.json",
    "spool",
    "spool.*",
    "register-heads.jsonl",  # `register head --record` run by root
)


def hand_back(state_dir: Path) -> int:
    """chown root-owned state entries under `state_dir` to its owner; the number changed."""
    try:
        top = state_dir.stat()
    except OSError:
        return 0
    if top.st_uid == 0:
        return 0  # root's own directory (a developer's, or a test's): nothing to hand back
    entries: list[Path] = []
    for pattern in _STATE_NAMES:
        for entry in state_dir.glob(pattern):
            entries.append(entry)
            if entry.is_dir() and not entry.is_symlink():
                entries += entry.rglob("*")
    changed = 0
    for entry in entries:
        try:
            if entry.lstat().st_uid == 0:
                os.lchown(entry, top.st_uid, top.st_gid)
                changed += 1
        except OSError as exc:
            from gateway.logs import get_logger  # not at import: light commands skip structlog

            get_logger("cli").warning("state_owner_failed", path=str(entry), error=exc.strerror)
    return changed
