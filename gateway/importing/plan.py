"""What importing the original system's rows means here: pure mapping, no I/O.

- people: the original's uid and name. A uid we cannot take as it is (spaces, too
  long) becomes its name key (uids.name_key); that is reported.
- cards: `user.key` normalised ('04:a1:b2:c3' -> '04A1B2C3'). A malformed key, a
  key two people hold (in the original, or here already), is reported and nobody
  gets it: never guessed.
- timetable: `user_schedule.day` '0'..'6' (0 = Monday) and `hour`, an index into the
  slot table (the original's 12 slots unless the config overrides them).
- events: `input` -> in, `output` -> out, unix seconds -> UTC. A repeated tap of the
  same person on the same reader within the duplicate window is kept as a duplicate,
  as the gateway does live, so it neither pairs nor counts. The event key is derived
  from the original's id_key, which is also kept as the source id: a second run finds
  every event already there.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time

from gateway.domain import Direction, Outcome, normalise_card_key
from gateway.errors import InvalidInputError
from gateway.importing.uids import name_key
from gateway.store import validate
from gateway.store.imported_events import ImportedRow
from gateway.store.models import TimetableEntry

# The original did not record which card made a tap; imported events carry this key
# (no card has an all-zero UID) and source 'import'.
IMPORTED_CARD_KEY = "00000000"
READERS = {"input": Direction.IN, "output": Direction.OUT}
_NAMESPACE = uuid.UUID("3b0c9f5e-8d2a-4f61-9c1e-5a7d2e4b8f03")


def event_key(id_key: int) -> uuid.UUID:
    """The idempotency key of an imported entry: the same id_key, the same key."""
    return uuid.uuid5(_NAMESPACE, f"auth_entity/{id_key}")


def event_key_hex(id_key: int) -> str:
    """event_key(id_key) as its 32 hex digits, computed as uuid.uuid5 does (SHA-1
    of the namespace and the name, version and variant bits set) without building
    a UUID object: a third of the import's Python time went to uuid5."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + b"auth_entity/%d" % id_key).hexdigest()
    return f"{digest[:12]}5{digest[13:16]}{_VARIANT[digest[16]]}{digest[17:32]}"


_NAMESPACE_BYTES = _NAMESPACE.bytes
# The variant nibble keeps its two low bits under the RFC 4122 variant, binary 10xx.
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


@dataclass(frozen=True)
class Problem:
    table: str  # the original's table
    ref: str  # which row: a uid, an id
    message: str

    def __str__(self) -> str:
        return f"{self.table} {self.ref}: {self.message}"


@dataclass
class PeoplePlan:
    uid_map: dict[str, str] = field(default_factory=dict)  # original uid -> ours
    add: list[tuple[str, str]] = field(default_factory=list)  # (uid, name)
    unchanged: int = 0
    cards: list[tuple[str, str]] = field(default_factory=list)  # (key, uid) to assign
    cards_unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)


def plan_people(
    users: Sequence[tuple[str, str, str | None]],
    existing: Mapping[str, str],
    holders: Mapping[str, str],
) -> PeoplePlan:
    """`users`: (uid, name, key) of the original; `existing`: our uid -> name;
    `holders`: our active card key -> uid."""
    plan = PeoplePlan()
    # The original's valid uids are spoken for: a derived uid never lands on one.
    taken = set(existing) | {v for u, _, _ in users if (v := _valid_uid(u))}
    for raw_uid, raw_name, _ in sorted(users, key=lambda u: u[0]):
        ref = repr(raw_uid)
        try:
            name = validate.name(raw_name)
        except InvalidInputError:
            name = validate.name(raw_uid) if raw_uid.strip() else ""
            if not name:
                plan.problems.append(Problem("user", ref, "no uid and no name: skipped"))
                continue
            plan.problems.append(
                Problem("user", ref, f"name {raw_name!r} cannot be used: imported as {name!r}")
            )
        try:
            uid = validate.uid(raw_uid)
        except InvalidInputError:
            uid = _free_uid(name_key(raw_uid) or name_key(name) or "person", name, existing, taken)
            plan.problems.append(Problem("user", ref, f"not a valid uid here: imported as {uid!r}"))
        plan.uid_map[raw_uid] = uid
        if uid in existing:
            plan.unchanged += 1
            if existing[uid] != name:
                plan.problems.append(
                    Problem("user", ref, f"already here as {existing[uid]!r}: name kept")
                )
        else:
            plan.add.append((uid, name))
        taken.add(uid)
    _plan_cards(users, plan, holders)
    return plan


def _valid_uid(text: str) -> str:
    """The uid as we would store it, or '' when it cannot be one."""
    try:
        return validate.uid(text)
    except InvalidInputError:
        return ""


def _free_uid(base: str, name: str, existing: Mapping[str, str], taken: set[str]) -> str:
    """base, base-2, ...: the first that is free or already this person (same name),
    so that a second run lands on the uid the first one chose."""
    n = 1
    while True:
        uid = base if n == 1 else f"{base}-{n}"
        if uid not in taken or existing.get(uid) == name:
            return uid
        n += 1


def _plan_cards(
    users: Sequence[tuple[str, str, str | None]], plan: PeoplePlan, holders: Mapping[str, str]
) -> None:
    by_key: dict[str, list[str]] = {}
    for raw_uid, _, raw_key in users:
        if raw_key is None or raw_uid not in plan.uid_map:
            continue
        try:
            key = normalise_card_key(raw_key)
        except InvalidInputError:
            plan.problems.append(
                Problem("user", repr(raw_uid), f"malformed card key {raw_key!r}: no card given")
            )
            continue
        by_key.setdefault(key, []).append(raw_uid)
    for key, raw_uids in sorted(by_key.items()):
        uids = sorted({plan.uid_map[u] for u in raw_uids})
        if len(uids) > 1:
            plan.problems.append(
                Problem(
                    "user",
                    ", ".join(repr(u) for u in sorted(raw_uids)),
                    f"card key {key} held by {len(uids)} people: given to none",
                )
            )
            continue
        uid = uids[0]
        holder = holders.get(key)
        if holder == uid:
            plan.cards_unchanged += 1
        elif holder is not None:
            plan.problems.append(
                Problem(
                    "user",
                    repr(raw_uids[0]),
                    f"card key {key} is held here by {holder}: not given to {uid}",
                )
            )
        else:
            plan.cards.append((key, uid))


def plan_timetable(
    rows: Iterable[tuple[int, str, str, str, str | None]],
    uid_map: Mapping[str, str],
    slots: Sequence[tuple[time, time]],
) -> tuple[list[TimetableEntry], list[Problem]]:
    """`rows`: user_schedule (uid, day, hour, room, userUid). Exact repeats collapse."""
    entries: list[TimetableEntry] = []
    seen: set[TimetableEntry] = set()
    problems: list[Problem] = []
    for row_id, day, hour, room, user in sorted(rows, key=lambda r: r[0]):
        ref = str(row_id)
        if user is None:
            problems.append(Problem("user_schedule", ref, "no user (userUid is null): skipped"))
            continue
        uid = uid_map.get(user)
        if uid is None:
            problems.append(Problem("user_schedule", ref, f"no user {user!r}: skipped"))
            continue
        day_text, hour_text = str(day).strip(), str(hour).strip()
        if not (day_text.isdigit() and int(day_text) <= 6):
            problems.append(Problem("user_schedule", ref, f"day {day!r} is not 0..6: skipped"))
            continue
        if not (hour_text.isdigit() and int(hour_text) < len(slots)):
            problems.append(
                Problem(
                    "user_schedule",
                    ref,
                    f"hour {hour!r} is not a slot (0..{len(slots) - 1}): skipped",
                )
            )
            continue
        start, end = slots[int(hour_text)]
        try:
            entry = validate.timetable_entry(
                TimetableEntry(uid, int(day_text) + 1, start, end, " ".join(room.split()))
            )
        except InvalidInputError as exc:
            problems.append(Problem("user_schedule", ref, f"{exc.message}: skipped"))
            continue
        if entry not in seen:
            seen.add(entry)
            entries.append(entry)
    return entries, problems


@dataclass
class EventMapper:
    """Turns auth_entity rows, read in (timestamp, id_key) order, into event rows:
    tuples in EVENT_COLUMNS order (gateway/store/imported_events.py), received_at
    as unix seconds. A tuple, not a dict per row: at a million rows the objects
    cost more than the database's insert."""

    uid_map: Mapping[str, str]
    duplicate_window_s: float
    problems: list[Problem] = field(default_factory=list)
    _last_counted: dict[tuple[str, str], int] = field(default_factory=dict)

    def map(self, rows: Iterable[tuple[int, str, int, str | None]]) -> list[ImportedRow]:
        out: list[ImportedRow] = []
        append = out.append
        uids = self.uid_map
        last_counted = self._last_counted
        window_s = self.duplicate_window_s
        for id_key, reader, stamp, user in rows:
            direction = _DIRECTIONS.get(reader)
            uid = None if user is None else uids.get(user)
            if uid is None or direction is None:
                self._problem(id_key, reader, user)
                continue
            window = (uid, reader)
            last = last_counted.get(window)
            if last is not None and stamp - last < window_s:
                outcome = _DUPLICATE
            else:
                last_counted[window] = stamp
                outcome = _RECORDED
            ref = str(id_key)
            append(
                (
                    event_key_hex(id_key),
                    uid,
                    IMPORTED_CARD_KEY,
                    direction,
                    _STORED_READERS[reader],
                    None,
                    int(stamp),
                    outcome,
                    "import",
                    ref,
                )
            )
        return out

    def _problem(self, id_key: int, reader: str, user: str | None) -> None:
        ref = str(id_key)
        if user is None:
            message = "no user (userUid is null): skipped"
        elif user not in self.uid_map:
            message = f"no user {user!r}: skipped"
        else:
            message = f"reader {reader!r} is not input/output: skipped"
        self.problems.append(Problem("auth_entity", ref, message))


_DIRECTIONS = {reader: d.value for reader, d in READERS.items()}
_STORED_READERS = {reader: f"original:{reader}" for reader in READERS}
_RECORDED = Outcome.RECORDED.value
_DUPLICATE = Outcome.DUPLICATE.value
