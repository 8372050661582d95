"""Working regimes (issue 22 item 1): each person's contract terms from a date, kept
with their history, and hr's paid-or-rest choice for a month's overtime.

Both are register rows (sealed, append-only: schema v5). A regime is never changed:
a new one is added from a later (or the same) date, and the newest row whose
valid_from is on or before a day is the one in force that day; for the same
valid_from, the row added last wins, so a mistake is put right by adding the right
terms from the same date. An overtime choice works the same way per month.

Every change writes its audit row in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import ConflictError, InvalidInputError, NotFoundError
from gateway.store import validate
from gateway.store.audit import Actor, write_audit
from gateway.store.database import Database
from gateway.store.tables import overtime_choices, people, work_regimes

Kind = Literal["full_time", "part_time"]
Place = Literal["on_site", "remote", "mixed"]
Compensation = Literal["paid", "rest"]
KINDS: tuple[Kind, ...] = ("full_time", "part_time")
PLACES: tuple[Place, ...] = ("on_site", "remote", "mixed")
COMPENSATIONS: tuple[Compensation, ...] = ("paid", "rest")
# A week longer than this is a typing mistake, not a contract (7 x 24 h is 10,080 min).
MAX_WEEKLY_MINUTES = 7 * 24 * 60
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Terms:
    """What a regime says: full or part time, the contract's week, where, overtime."""

    kind: Kind
    weekly_minutes: int
    part_time_percent: int | None
    place: Place
    overtime_default: Compensation = "paid"


@dataclass(frozen=True)
class Regime:
    """One stored regime: terms in force from valid_from (until a newer one)."""

    id: int
    person_uid: str
    valid_from: date
    terms: Terms
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class OvertimeChoice:
    id: int
    person_uid: str
    month: str  # YYYY-MM
    choice: Compensation
    created_by: str
    created_at: datetime


def terms(
    *,
    part_time_percent: int | None,
    weekly_hours: float | None,
    place: str,
    overtime: str = "paid",
    full_week_minutes: int,
) -> Terms:
    """The terms of a regime from what a person types: a part-time percentage (None:
    full time), the contract's weekly hours (default: the full week, or its share for
    part time), the place and the overtime default. A one-line refusal when a value is
    out of range."""
    if place not in PLACES:
        raise InvalidInputError(f"place must be one of {', '.join(PLACES)}, got {place!r}")
    if overtime not in COMPENSATIONS:
        raise InvalidInputError(f"overtime must be 'paid' or 'rest', got {overtime!r}")
    if part_time_percent is not None and not 1 <= part_time_percent <= 99:
        raise InvalidInputError(
            f"a part-time percentage is from 1 to 99, got {part_time_percent} (100 % is full time)"
        )
    if weekly_hours is not None:
        if not 0 < weekly_hours * 60 <= MAX_WEEKLY_MINUTES:
            raise InvalidInputError(
                f"weekly hours must be more than 0 and at most 168, got {weekly_hours:g}"
            )
        minutes = round(weekly_hours * 60)
    elif part_time_percent is not None:
        minutes = round(full_week_minutes * part_time_percent / 100)
    else:
        minutes = full_week_minutes
    if minutes <= 0:
        raise InvalidInputError("the contract's week must be at least a minute")
    if part_time_percent is not None and minutes >= full_week_minutes:
        raise InvalidInputError(
            f"a part-time week of {minutes / 60:g} h is not shorter than the full week "
            f"({full_week_minutes / 60:g} h)"
        )
    kind: Kind = "full_time" if part_time_percent is None else "part_time"
    return Terms(kind, minutes, part_time_percent, place, overtime)


def in_force(regimes: Sequence[Regime], day: date) -> Regime | None:
    """The regime in force on `day` among one person's: the newest valid_from on or
    before it, and of those the one added last. Pure, for reports."""
    best: Regime | None = None
    for regime in regimes:
        if regime.valid_from > day:
            continue
        if best is None or (regime.valid_from, regime.id) > (best.valid_from, best.id):
            best = regime
    return best


def choice_for(
    choices: Sequence[OvertimeChoice], month: str, default: Compensation
) -> Compensation:
    """hr's choice for one person's month (the newest), else the regime's default."""
    found = [c for c in choices if c.month == month]
    return max(found, key=lambda c: c.id).choice if found else default


def month_text(value: str) -> str:
    if not _MONTH.match(value.strip()):
        raise InvalidInputError(f"a month is YYYY-MM (e.g. 2026-11), got {value!r}")
    return value.strip()


def _regime(row: object) -> Regime:
    r = row._mapping  # type: ignore[attr-defined]
    return Regime(
        id=int(r["id"]),
        person_uid=r["person_uid"],
        valid_from=r["valid_from"],
        terms=Terms(
            r["kind"],
            int(r["weekly_minutes"]),
            r["part_time_percent"],
            r["place"],
            r["overtime_default"],
        ),
        created_by=r["created_by"],
        created_at=r["created_at"],
    )


def _choice(row: object) -> OvertimeChoice:
    r = row._mapping  # type: ignore[attr-defined]
    return OvertimeChoice(
        int(r["id"]), r["person_uid"], r["month"], r["choice"], r["created_by"], r["created_at"]
    )


async def _person(conn: AsyncConnection, uid: str) -> None:
    row = (await conn.execute(select(people.c.erased_at).where(people.c.uid == uid))).first()
    if row is None:
        raise NotFoundError(f"no person with uid {uid!r}")
    if row.erased_at is not None:
        raise ConflictError(f"person {uid!r} was erased")


def _details(valid_from: date, t: Terms) -> dict[str, object]:
    return {
        "valid_from": valid_from.isoformat(),
        "kind": t.kind,
        "weekly_minutes": t.weekly_minutes,
        "part_time_percent": t.part_time_percent,
        "place": t.place,
        "overtime_default": t.overtime_default,
    }


async def insert_regime(
    conn: AsyncConnection, uid: str, valid_from: date, t: Terms, actor: Actor
) -> int | None:
    """Add a regime in the caller's transaction, with its audit row; None (nothing
    written) when the same terms are already in force from the same date, so that an
    import run twice adds nothing twice."""
    current = (
        await conn.execute(
            select(work_regimes)
            .where(work_regimes.c.person_uid == uid, work_regimes.c.valid_from == valid_from)
            .order_by(work_regimes.c.id.desc())
            .limit(1)
        )
    ).first()
    if current is not None and _regime(current).terms == t:
        return None
    new_id = await conn.scalar(
        insert(work_regimes)
        .values(
            person_uid=uid,
            valid_from=valid_from,
            kind=t.kind,
            weekly_minutes=t.weekly_minutes,
            part_time_percent=t.part_time_percent,
            place=t.place,
            overtime_default=t.overtime_default,
            created_by=actor.name,
        )
        .returning(work_regimes.c.id)
    )
    await write_audit(conn, actor, "regime.set", uid, {"id": new_id, **_details(valid_from, t)})
    return int(new_id)


class RegimeStore:
    """add, add_many, history, in_force, for_people; choose_overtime, choices."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, uid: str, valid_from: date, t: Terms, actor: Actor) -> int | None:
        """Set `uid`'s regime from `valid_from`; the new row's id (None: the same terms
        were already set from that date)."""
        uid = validate.uid(uid)
        async with self._db.tx(write=True) as conn:
            await _person(conn, uid)
            return await insert_regime(conn, uid, valid_from, t, actor)

    async def add_many(
        self, rows: Iterable[tuple[str, date, Terms]], actor: Actor
    ) -> list[int | None]:
        """Several regimes in one transaction (the users import): all or none."""
        async with self._db.tx(write=True) as conn:
            added = []
            for uid, valid_from, t in rows:
                await _person(conn, uid)
                added.append(await insert_regime(conn, uid, valid_from, t, actor))
            return added

    async def history(self, uid: str) -> list[Regime]:
        """Every regime of `uid`, oldest valid_from first (then in the order added)."""
        uid = validate.uid(uid)
        async with self._db.tx() as conn:
            await _person(conn, uid)
            rows = await conn.execute(
                select(work_regimes)
                .where(work_regimes.c.person_uid == uid)
                .order_by(work_regimes.c.valid_from, work_regimes.c.id)
            )
            return [_regime(r) for r in rows]

    async def in_force(self, uid: str, day: date) -> Regime | None:
        return in_force(await self.history(uid), day)

    async def for_people(self, uids: Iterable[str] | None = None) -> dict[str, list[Regime]]:
        """Every regime per person (of `uids`, or of everyone), for reports."""
        query = select(work_regimes).order_by(
            work_regimes.c.person_uid, work_regimes.c.valid_from, work_regimes.c.id
        )
        if uids is not None:
            query = query.where(work_regimes.c.person_uid.in_(list(uids)))
        found: dict[str, list[Regime]] = {}
        async with self._db.tx() as conn:
            for row in await conn.execute(query):
                regime = _regime(row)
                found.setdefault(regime.person_uid, []).append(regime)
        return found

    async def choose_overtime(self, uid: str, month: str, choice: str, actor: Actor) -> int:
        """hr's choice of paid or rest for `uid`'s overtime in `month` (YYYY-MM)."""
        uid, month = validate.uid(uid), month_text(month)
        if choice not in COMPENSATIONS:
            raise InvalidInputError(f"overtime is 'paid' or 'rest', got {choice!r}")
        async with self._db.tx(write=True) as conn:
            await _person(conn, uid)
            new_id = await conn.scalar(
                insert(overtime_choices)
                .values(person_uid=uid, month=month, choice=choice, created_by=actor.name)
                .returning(overtime_choices.c.id)
            )
            await write_audit(
                conn,
                actor,
                "overtime.choice",
                uid,
                {"id": new_id, "month": month, "choice": choice},
            )
        return int(new_id)

    async def choices(self, uids: Iterable[str] | None = None) -> dict[str, list[OvertimeChoice]]:
        query = select(overtime_choices).order_by(overtime_choices.c.id)
        if uids is not None:
            query = query.where(overtime_choices.c.person_uid.in_(list(uids)))
        found: dict[str, list[OvertimeChoice]] = {}
        async with self._db.tx() as conn:
            for row in await conn.execute(query):
                choice = _choice(row)
                found.setdefault(choice.person_uid, []).append(choice)
        return found
