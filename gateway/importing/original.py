"""`import-original`: the original system's people, cards, timetable and taps.

Order and transactions: people, cards and the timetable are small and go in ONE
transaction; then the taps stream in batches (BATCH rows, one transaction each), so
an import of millions of rows holds no huge transaction and, interrupted, resumes by
running it again: every tap's event key comes from its id_key, and rows already
there are skipped (the same event key or source id). Running it again changes nothing.
`dry_run` reads and checks everything and counts what would change, writing nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import time
from typing import Any

from gateway.importing.plan import (
    EventMapper,
    Problem,
    plan_people,
    plan_timetable,
)
from gateway.importing.source import OriginalDatabase
from gateway.logs import get_logger
from gateway.store.imported_events import EVENT_COLUMNS
from gateway.store.stores import Stores

log = get_logger("import")

BATCH = 10_000
_OUTCOME = EVENT_COLUMNS.index("outcome")


@dataclass
class Counts:
    read: int = 0  # rows in the original's table
    new: int = 0  # written (or, in a dry run, that would be)
    unchanged: int = 0  # already here as they are
    skipped: int = 0  # not imported: see the problems


@dataclass
class OriginalImport:
    source: str  # the original's URL, password hidden
    dry_run: bool
    people: Counts = field(default_factory=Counts)
    cards: Counts = field(default_factory=Counts)
    timetable: Counts = field(default_factory=Counts)  # rows; skipped: problems and repeats
    timetable_people_changed: int = 0  # people whose rows were (or would be) rewritten
    events: Counts = field(default_factory=Counts)
    duplicates: int = 0  # taps kept as duplicates (same person and reader within the window)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [str(p) for p in self.problems]
        return data


async def import_original(
    stores: Stores,
    url: str,
    *,
    slots: Sequence[tuple[time, time]],
    duplicate_window_s: float,
    dry_run: bool = False,
    batch: int = BATCH,
    progress: Callable[[OriginalImport], None] | None = None,
) -> OriginalImport:
    started = clock.monotonic()
    async with OriginalDatabase(url) as original:
        result = OriginalImport(original.where, dry_run)
        users = await original.users()
        schedule = await original.schedule()
        snapshot = await stores.imports.snapshot()
        plan = plan_people(users, snapshot.people, snapshot.holders)
        entries, timetable_problems = plan_timetable(schedule, plan.uid_map, slots)
        result.problems += plan.problems + timetable_problems

        result.people = Counts(len(users), len(plan.add), plan.unchanged)
        result.people.skipped = len(users) - len(plan.add) - plan.unchanged
        with_key = sum(1 for _, _, key in users if key is not None)
        result.cards = Counts(with_key, len(plan.cards), plan.cards_unchanged)
        result.cards.skipped = with_key - len(plan.cards) - plan.cards_unchanged
        scope = sorted(set(plan.uid_map.values()))
        if dry_run:
            changed = set(await stores.imports.changed(entries, scope))
        else:
            applied = await stores.imports.apply(
                add_people=plan.add, add_cards=plan.cards, entries=entries, scope=scope
            )
            changed = set(applied.changed_people)
        rewritten = sum(1 for e in entries if e.person_uid in changed)
        result.timetable = Counts(len(schedule), rewritten, len(entries) - rewritten)
        result.timetable.skipped = len(schedule) - len(entries)
        result.timetable_people_changed = len(changed)

        result.events.read = await original.count_entries()
        mapper = EventMapper(plan.uid_map, duplicate_window_s)

        def counted(mapped: int, added: int) -> None:
            result.events.new += added
            result.events.unchanged += mapped - added
            if progress is not None:
                progress(result)

        # One batch's write in flight while the next is read and mapped: the
        # database's INSERT and our Python overlap. Batches still commit one after
        # the other, each whole, so an interrupted import leaves a prefix.
        writing: tuple[int, asyncio.Task[int]] | None = None
        try:
            async for rows in original.entries(batch):
                mapped = mapper.map(rows)
                result.duplicates += sum(1 for r in mapped if r[_OUTCOME] == "duplicate")
                if dry_run:
                    there = await stores.imports.existing_imported(mapped)
                    counted(len(mapped), len(mapped) - len(there))
                    continue
                if writing is not None:
                    counted(writing[0], await writing[1])
                writing = (len(mapped), asyncio.create_task(stores.imports.record_imported(mapped)))
            if writing is not None:
                counted(writing[0], await writing[1])
                writing = None
        finally:
            if writing is not None:  # the source failed mid-way: no write left behind
                writing[1].cancel()
                with contextlib.suppress(BaseException):
                    await writing[1]
        result.events.skipped = len(mapper.problems)
        result.problems += mapper.problems
    result.seconds = clock.monotonic() - started
    log.info(
        "original_imported",
        source=result.source,
        dry_run=dry_run,
        people=result.people.new,
        cards=result.cards.new,
        timetable_changed=result.timetable_people_changed,
        events=result.events.new,
        problems=len(result.problems),
        seconds=round(result.seconds, 2),
    )
    return result
