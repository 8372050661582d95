"""The heads log: the chain's head, copied out of the database now and then.

A database owner can rewrite every row and every seal consistently; they cannot
rewrite what was copied elsewhere before. So the daemon appends the current head to
`register-heads.jsonl` in its state directory when it starts, at least daily and when
it stops (and the export does on every export), and logs the same as a
`register_head` event (the journal keeps it too). `register verify --head FILE`
checks the database against every head of such a file.

One JSON object per line, appended and fsync'd, never rewritten:
{"at": "...Z", "seq": 1234, "seal": "<64 hex>", "gateway": "...", "why": "daily"}.
A file of `SEQ:SEAL` lines (one head copied by hand) is read too.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from gateway.errors import InvalidInputError, NotFoundError
from gateway.store.chain import Head, Link, canonical_time, parse_head

HEADS_FILE = "register-heads.jsonl"
# Enough of the file's end to hold its last line.
_TAIL_BYTES = 4096


def heads_path(state_dir: Path) -> Path:
    return state_dir / HEADS_FILE


def append_head(state_dir: Path, link: Link, *, why: str, gateway: str) -> dict[str, object]:
    """Append the head `link` to the heads log (created if missing), durably; the line."""
    entry: dict[str, object] = {
        "at": canonical_time(datetime.now(UTC)),
        "seq": link.seq,
        "seal": link.seal,
        "gateway": gateway,
        "why": why,
    }
    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(heads_path(state_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def last_recorded(state_dir: Path) -> datetime | None:
    """When the log's last head was written (None: no log, or nothing readable)."""
    try:
        with heads_path(state_dir).open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _TAIL_BYTES))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(tail.strip().splitlines()):
        try:
            at = datetime.fromisoformat(str(json.loads(line)["at"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            continue
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return None


def read_heads(path: Path) -> list[Head]:
    """Every head in a heads log or a file of SEQ:SEAL lines (blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no heads file {path}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise NotFoundError(f"cannot read {path}: {exc.strerror}") from None
    heads = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            heads.append(_head_of_line(line))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{path} line {number}: {exc}") from None
    if not heads:
        raise InvalidInputError(f"{path}: no chain head in it")
    return heads


def _head_of_line(line: str) -> Head:
    if not line.lstrip().startswith("{"):
        return parse_head(line)
    try:
        doc = json.loads(line)
        return parse_head(f"{int(doc['seq'])}:{doc['seal']}")
    except (ValueError, KeyError, TypeError):
        raise InvalidInputError("not a heads log line (JSON with seq and seal)") from None


def heads_from_argument(value: str) -> list[Head]:
    """`--head FILE|VALUE`: a SEQ:SEAL value, else the file of that name."""
    if ":" in value and not Path(value).exists():
        return [parse_head(value)]
    return read_heads(Path(value))
