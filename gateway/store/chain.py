"""The register's seal rules, pure: canonical payloads, digests, seals and heads.

Written so that anyone can recompute a seal with standard tools (docs/REGISTER.md has
the recipe for `sha256sum`):

- payload = the row's sealed columns as JSON: keys sorted, no spaces, UTF-8 as it is,
  times in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, dates as `YYYY-MM-DD`, the event key
  as a dashed uuid, a NULL as `null`. The row's id is not in it: the seal names the row.
- digest = SHA-256(payload), in hex.
- seal = SHA-256 of the text `prev|seq|kind|row_id|sealed_at|digest`, in hex, where
  prev is the seal of position seq - 1 (64 zeros for the first one).

One chain for the whole database, whatever the number of gateways: a seal's position
is its place in the chain, given by the one sealer that holds the lock. A purge of the
oldest part leaves a `checkpoint` seal whose payload names the last seal it removed
(`through_seq`, `through_seal`), from which the rest of the chain still verifies.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from gateway.errors import InvalidInputError

GENESIS = "0" * 64

# What is sealed of each kind of row: every column but the id (the seal names the row).
# tests/register/test_chain.py fails when a table gains a column missing here.
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "event": (
        "event_key",
        "person_uid",
        "card_key",
        "direction",
        "reader",
        "reader_hw_id",
        "received_at",
        "stored_at",
        "outcome",
        "gateway_id",
        "source",
        "source_id",
    ),
    "correction": (
        "person_uid",
        "kind",
        "direction",
        "at",
        "event_id",
        "reason",
        "created_by",
        "created_at",
    ),
    # Schema v5 (issue 22): the agreement trail, the working regimes, the overtime choices.
    "step": ("correction_id", "step", "side", "actor", "note", "at"),
    "regime": (
        "person_uid",
        "valid_from",
        "kind",
        "weekly_minutes",
        "part_time_percent",
        "place",
        "overtime_default",
        "created_by",
        "created_at",
    ),
    "overtime": ("person_uid", "month", "choice", "created_by", "created_at"),
    "audit": ("at", "actor", "address", "action", "target", "details"),
}
# The column that dates each kind of row: the range of `register verify --from --to`,
# and the age the retention purge goes by (a correction by when it was made).
DATE_COLUMN = {
    "event": "received_at",
    "correction": "created_at",
    "step": "at",
    "regime": "created_at",
    "overtime": "created_at",
    "audit": "at",
}
# The kinds of rows, in the order a sealing round seals them (a correction names an
# event stored before it, so events go first, and a step names its correction).
ROW_KINDS = ("event", "correction", "step", "regime", "overtime", "audit")
CHECKPOINT = "checkpoint"

_HEAD = re.compile(r"^\s*(\d{1,18}):([0-9a-f]{64})\s*$")


def canonical_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in the register")
    # isoformat is several times faster than strftime, and this runs per sealed column.
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return canonical_time(value)
    if isinstance(value, date):
        return value.isoformat()  # a regime's valid_from: YYYY-MM-DD, no zone
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str | int):
        return value
    raise TypeError(f"cannot seal a {type(value).__name__}")


def payload(kind: str, row: Mapping[Any, Any]) -> str:
    """The canonical JSON of a row's sealed columns."""
    values = {column: _canonical(row[column]) for column in SEALED_COLUMNS[kind]}
    return _json(values)


def _json(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal_of(prev: str, seq: int, kind: str, row_id: int, sealed_at: datetime, body: str) -> str:
    """The seal of one link: over the previous seal and this row's payload."""
    line = f"{prev}|{seq}|{kind}|{row_id}|{canonical_time(sealed_at)}|{digest(body)}"
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored seal."""

    seq: int
    kind: str
    row_id: int
    payload: str
    prev: str
    seal: str
    sealed_at: datetime

    def holds(self) -> bool:
        """Whether the seal is what its own fields give (its link to prev aside)."""
        expected = seal_of(
            self.prev, self.seq, self.kind, self.row_id, self.sealed_at, self.payload
        )
        return expected == self.seal


def next_link(
    tail: tuple[int, str] | None, kind: str, row_id: int, body: str, sealed_at: datetime
) -> Link:
    """The link after `tail` (its seq and seal; None for the first one)."""
    seq, prev = (1, GENESIS) if tail is None else (tail[0] + 1, tail[1])
    return Link(
        seq, kind, row_id, body, prev, seal_of(prev, seq, kind, row_id, sealed_at, body), sealed_at
    )


# -- checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """What a retention purge removed: the chain up to through_seq."""

    before: str  # the cut-off, canonical time
    through_seq: int
    through_seal: str
    removed: Mapping[str, int]  # rows removed per kind, and 'seals'
    missing: int  # rows of the removed part already gone or altered before the purge

    def payload(self) -> str:
        return _json(
            {
                "before": self.before,
                "through_seq": self.through_seq,
                "through_seal": self.through_seal,
                "removed": dict(self.removed),
                "missing": self.missing,
            }
        )


def checkpoint_of(body: str) -> Checkpoint | None:
    """The checkpoint a payload describes, or None when it is not one."""
    try:
        doc = json.loads(body)
        return Checkpoint(
            before=str(doc["before"]),
            through_seq=int(doc["through_seq"]),
            through_seal=str(doc["through_seal"]),
            removed={str(k): int(v) for k, v in dict(doc["removed"]).items()},
            missing=int(doc["missing"]),
        )
    except (ValueError, TypeError, KeyError):
        return None


# -- heads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The chain's last seal at some moment: kept outside the database, it proves that
    the chain up to it was not rewritten since."""

    seq: int
    seal: str

    def text(self) -> str:
        return f"{self.seq}:{self.seal}"


def parse_head(text: str) -> Head:
    """`SEQ:SEAL` (as verify, the heads log and the export print it)."""
    match = _HEAD.match(text)
    if match is None:
        raise InvalidInputError(
            f"not a chain head: {text.strip()[:80]!r} (expected SEQ:SEAL, e.g. "
            "'1234:' followed by 64 hex digits)"
        )
    return Head(int(match.group(1)), match.group(2))


# -- differences -----------------------------------------------------------------------------


def differences(sealed: str, current: str) -> list[tuple[str, Any, Any]]:
    """(column, sealed value, current value) for each column that changed."""
    try:
        before, now = json.loads(sealed), json.loads(current)
    except ValueError:
        return [("payload", sealed, current)]
    if not isinstance(before, dict) or not isinstance(now, dict):
        return [("payload", sealed, current)]
    return [
        (key, before.get(key), now.get(key))
        for key in sorted(set(before) | set(now))
        if before.get(key) != now.get(key)
    ]
