"""The last-known card directory: who holds which card, kept on disk for outages.

The daemon answers swipes from it when the database does not answer in time. It is
refreshed from the database at start and periodically, and written atomically (tmp
file, fsync, rename), so a daemon restarted during an outage still knows every card
it knew before. The event loop changes the directory; the disk is touched from a
thread: `save()` builds the file's bytes on the loop and only writes them in the
thread, `load()` reads the file in the thread and installs what it holds on the loop,
so no thread ever touches the directory while the loop changes it.

A missing or damaged file gives an empty directory and a log event, never a failed
start: the daemon then answers unknown cards with KO until the
database is back, which is honest.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.domain import Person
from gateway.durable.atomic import atomic_write
from gateway.logs import get_logger

FILE_NAME = "card-directory.json"
FORMAT_VERSION = 1


log = get_logger("directory")


class CardDirectory:
    """card key -> Person, with the wall-clock time of the last full refresh.

    Plain in-memory operations are synchronous and cheap; `load` and `save` touch the
    disk in a thread. Use from one event loop.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._cards: dict[str, Person] = {}
        self.refreshed_at: datetime | None = None  # last full refresh from the database

    def __len__(self) -> int:
        return len(self._cards)

    def get(self, card_key: str) -> Person | None:
        return self._cards.get(card_key)

    def remember(self, card_key: str, person: Person | None) -> None:
        """Keep a single answer from the database (in memory until the next save)."""
        if person is None or not person.active:
            self._cards.pop(card_key, None)
        else:
            self._cards[card_key] = person

    def replace(self, cards: Mapping[str, Person], refreshed_at: datetime | None = None) -> None:
        self._cards = {k: p for k, p in cards.items() if p.active}
        self.refreshed_at = refreshed_at or datetime.now(UTC)

    def age_s(self, now: datetime | None = None) -> float | None:
        """Seconds since the last full refresh, None if there never was one."""
        if self.refreshed_at is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.refreshed_at).total_seconds())

    # -- disk ----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        doc = {
            "version": FORMAT_VERSION,
            "refreshed_at": self.refreshed_at.isoformat() if self.refreshed_at else None,
            "cards": {
                key: {"uid": p.uid, "name": p.name}
                for key, p in sorted(self._cards.items(), key=lambda kv: kv[0])
            },
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def save(self) -> None:
        """Write the directory atomically; OSError propagates (callers log it)."""
        data = self.to_bytes()  # on the loop: the loop is what changes the directory
        started = time.monotonic()
        await asyncio.to_thread(_write, self.path, data)
        log.debug(
            "directory_saved",
            path=str(self.path),
            cards=len(self._cards),
            ms=round((time.monotonic() - started) * 1000, 1),
        )

    async def load(self) -> bool:
        """Load the saved directory; False (and an empty directory) if there is none usable."""
        try:
            raw = await asyncio.to_thread(self.path.read_bytes)
        except FileNotFoundError:
            log.info("directory_file_missing", path=str(self.path))
            return False
        except OSError as exc:
            log.error("directory_file_unreadable", path=str(self.path), error=str(exc))
            return False
        try:
            cards, refreshed_at = _parse(raw)
        except ValueError as exc:
            log.error("directory_file_invalid", path=str(self.path), error=str(exc))
            return False
        self._cards = cards
        self.refreshed_at = refreshed_at
        log.info(
            "directory_loaded",
            path=str(self.path),
            cards=len(cards),
            age_s=None if (age := self.age_s()) is None else round(age),
        )
        return True


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


def _parse(raw: bytes) -> tuple[dict[str, Person], datetime | None]:
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise ValueError("unknown format version")
    stamp = doc.get("refreshed_at")
    try:
        refreshed_at = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        raise ValueError(f"bad refreshed_at {stamp!r}") from None
    entries = doc.get("cards")
    if not isinstance(entries, dict):
        raise ValueError("cards must be an object")
    cards: dict[str, Person] = {}
    for key, entry in entries.items():
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("uid"), str)
            and isinstance(entry.get("name"), str)
        ):
            raise ValueError(f"bad entry for card {key!r}")
        cards[key] = Person(uid=entry["uid"], name=entry["name"], active=True)
    return cards, refreshed_at
