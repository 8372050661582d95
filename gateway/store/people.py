"""People and their cards as read (the lists, the search of the people page, one
person's record, the enrolment list of unknown cards), and the bulk import of people
and cards."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, exists, func, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import ColumnElement

from gateway.domain import normalise_card_key
from gateway.errors import ConflictError, GatewayError, InvalidInputError
from gateway.store import validate
from gateway.store.database import Database
from gateway.store.folding import fold, fold_sql, like_pattern, search_words
from gateway.store.holdings import ACTIVE_CARD
from gateway.store.lifecycle import ERASED_NAME, ERASED_PREFIX
from gateway.store.models import ImportResult, PersonImport, PersonRow, UnknownSwipeRow
from gateway.store.tables import cards, people, timetable, unknown_swipes

# Rows per write transaction of an import, and per IN (...) list when checking it.
IMPORT_BATCH = 500


class ImportConflicts(ConflictError):
    """Every conflict of an import with what is stored, each naming its line."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{shown}{more}")
        self.problems = problems


def _normalised(row: PersonImport) -> PersonImport:
    """The row as stored: uid and name checked, the card key in its one spelling."""
    try:
        key = normalise_card_key(row.card_key) if row.card_key else None
        return PersonImport(row.line, validate.uid(row.uid), validate.name(row.name), key)
    except GatewayError as exc:
        raise type(exc)(f"line {row.line}: {exc.message}") from None


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# The states the people list filters by; none given: everyone not erased.
STATES = ("active", "nocard", "inactive", "erased")
# At most this many people per page of a search (the web asks for far fewer).
MAX_PAGE = 500
# A search term with at least this many hex digits also looks at card keys (fewer
# would match half the cards: "ca" of "Carmen" is hex too).
CARD_TERM_DIGITS = 4
_SEPARATORS = re.compile(r"[\s:.-]")
_HEX = re.compile(r"[0-9A-F]+")
_NAME_UID_GAP = "\x1f"  # between name and uid in the folded text a word is looked for in


@dataclass(frozen=True)
class PeoplePage:
    """One page of a search: its people (with their active cards) in the list's order,
    how many match in all, and the key of the last row when another page follows
    (pass it back as `after`)."""

    rows: list[PersonRow]
    total: int
    after: tuple[str, str] | None


@dataclass(frozen=True)
class UnknownPage:
    """One page of the unknown cards: its rows (most recently seen first), how many
    match in all, and the key of the last row when another page follows."""

    rows: list[UnknownSwipeRow]
    total: int
    after: tuple[datetime, str] | None


@dataclass(frozen=True)
class CardHolding:
    card_key: str
    assigned_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class PersonRecord:
    """One person as their page shows them: every card they held, the current first."""

    uid: str
    name: str
    active: bool
    erased: bool
    created_at: datetime
    cards: list[CardHolding]

    @property
    def active_cards(self) -> list[str]:
        return [c.card_key for c in self.cards if c.revoked_at is None]


def _erased(table_uid: ColumnElement[str], name: ColumnElement[str]) -> ColumnElement[bool]:
    """Erased (v3 marks erased_at) or a pseudonym a version-2 erasure left."""
    return or_(
        people.c.erased_at.is_not(None),
        and_(name == ERASED_NAME, table_uid.like(f"{ERASED_PREFIX}%")),
    )


def _unknown_row(r: Row[Any]) -> UnknownSwipeRow:
    return UnknownSwipeRow(
        card_key=r.card_key,
        first_seen=r.first_seen,
        last_seen=r.last_seen,
        count=r._mapping["count"],
        last_reader=r.last_reader,
        last_reader_hw_id=r.last_reader_hw_id,
    )


def _card_term(term: str) -> str | None:
    """The hex digits of a search term that may be (part of) a card key, or None."""
    digits = _SEPARATORS.sub("", term).upper()
    return digits if len(digits) >= CARD_TERM_DIGITS and _HEX.fullmatch(digits) else None


class PeopleStore:
    """people, search, person, uids, names, rooms, unknown_swipes, unknown_page,
    unknown_state, check_import, import_people.

    Reads, and the bulk import; a single person or card changes only through the
    audited LifecycleStore (its audit row in the same transaction)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def people(self, *, without_card: bool = False) -> list[PersonRow]:
        """Everyone, with their active cards; only those with none if without_card."""
        query = (
            select(
                people.c.uid, people.c.name, people.c.active, people.c.erased_at, cards.c.card_key
            )
            .outerjoin(cards, and_(cards.c.person_uid == people.c.uid, ACTIVE_CARD))
            .order_by(people.c.uid, cards.c.card_key)
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        result: dict[str, PersonRow] = {}
        for r in rows:
            row = result.setdefault(
                r.uid, PersonRow(r.uid, r.name, r.active, [], r.erased_at is not None)
            )
            if r.card_key is not None:
                row.cards.append(r.card_key)
        return [p for p in result.values() if not (without_card and p.cards)]

    async def search(
        self,
        text: str = "",
        *,
        state: str | None = None,
        room: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> PeoplePage:
        """People matching every word of `text` (in the name, accents and case ignored,
        in the uid, or in an active card's key), in one state and with a timetable row
        in one room, ordered by folded name then uid; the page after the key `after`
        (keyset paging: a person added meanwhile never shifts a page, nor repeats one).
        """
        if state is not None and state not in STATES:
            raise InvalidInputError(f"unknown state {state!r}: use one of {', '.join(STATES)}")
        limit = max(1, min(limit, MAX_PAGE))
        base = select(
            people.c.uid,
            people.c.name,
            people.c.active,
            _erased(people.c.uid, people.c.name).label("erased"),
            fold_sql(people.c.name, self._db.dialect).label("sort_name"),
            # Name and uid folded in one call (the search's cost on SQLite is a call
            # into Python per row and reference); the separator is a control
            # character, which search_words drops, so no word spans the two.
            fold_sql(people.c.name + _NAME_UID_GAP + people.c.uid, self._db.dialect).label(
                "haystack"
            ),
        ).subquery("p")
        holds = exists().where(cards.c.person_uid == base.c.uid, ACTIVE_CARD)
        where: list[ColumnElement[bool]] = []
        if state is None:
            where.append(~base.c.erased)
        elif state == "erased":
            where.append(base.c.erased)
        elif state == "inactive":
            where += [~base.c.erased, ~base.c.active]
        else:
            where += [~base.c.erased, base.c.active]
            if state == "nocard":
                where.append(~holds)
        if room:
            where.append(
                exists().where(timetable.c.person_uid == base.c.uid, timetable.c.room == room)
            )
        for term in search_words(text):
            pattern = like_pattern(fold(term))
            matches: list[ColumnElement[bool]] = [
                base.c.haystack.like(pattern, escape="\\"),
            ]
            if (digits := _card_term(term)) is not None:
                matches.append(
                    exists().where(
                        cards.c.person_uid == base.c.uid,
                        ACTIVE_CARD,
                        cards.c.card_key.like(f"%{digits}%"),
                    )
                )
            where.append(or_(*matches))
        page = select(base.c.uid, base.c.name, base.c.active, base.c.erased, base.c.sort_name)
        page = page.where(*where)
        if after is not None:
            key, uid = literal(after[0]), literal(after[1])
            page = page.where(
                or_(base.c.sort_name > key, and_(base.c.sort_name == key, base.c.uid > uid))
            )
        page = page.order_by(base.c.sort_name, base.c.uid).limit(limit + 1)
        total = select(func.count()).select_from(base).where(*where)
        async with self._db.tx() as conn:
            found = (await conn.execute(page)).all()
            count = int(await conn.scalar(total) or 0)
            shown = found[:limit]
            held: dict[str, list[str]] = {r.uid: [] for r in shown}
            if held:
                query = (
                    select(cards.c.person_uid, cards.c.card_key)
                    .where(cards.c.person_uid.in_(list(held)), ACTIVE_CARD)
                    .order_by(cards.c.card_key)
                )
                for r in await conn.execute(query):
                    held[r.person_uid].append(r.card_key)
        rows = [
            PersonRow(r.uid, r.name, bool(r.active), held[r.uid], bool(r.erased)) for r in shown
        ]
        last = shown[-1] if len(found) > limit else None
        return PeoplePage(rows, count, None if last is None else (last.sort_name, last.uid))

    async def person(self, uid: str) -> PersonRecord | None:
        """One person and every card they held (current ones first), or None."""
        query = select(
            people.c.uid,
            people.c.name,
            people.c.active,
            people.c.created_at,
            _erased(people.c.uid, people.c.name).label("erased"),
        ).where(people.c.uid == uid)
        held = (
            select(cards.c.card_key, cards.c.assigned_at, cards.c.revoked_at)
            .where(cards.c.person_uid == uid)
            .order_by(cards.c.revoked_at.is_not(None), cards.c.assigned_at.desc(), cards.c.id)
        )
        async with self._db.tx() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            holdings = [
                CardHolding(r.card_key, r.assigned_at, r.revoked_at)
                for r in await conn.execute(held)
            ]
        return PersonRecord(
            row.uid, row.name, bool(row.active), bool(row.erased), row.created_at, holdings
        )

    async def uids(self, *, after: str | None = None, limit: int | None = None) -> list[str]:
        """Everyone's uid in order (erased and deactivated too, as `people` lists
        them), from the one after `after`, at most `limit`: a page of a list keyed by
        uid, without reading 2,000 people and their cards for it."""
        # In code point order, as Python sorts them (a page's cursor is compared in
        # Python too): PostgreSQL's default collation orders 'a.b' and 'ab' otherwise.
        uid = people.c.uid.collate("C") if self._db.dialect == "postgresql" else people.c.uid
        query = select(people.c.uid).order_by(uid)
        if after is not None:
            query = query.where(uid > after)
        if limit is not None:
            query = query.limit(max(0, limit))
        async with self._db.tx() as conn:
            return [str(u) for u in (await conn.scalars(query)).all()]

    async def names(self, uids: Sequence[str]) -> dict[str, str]:
        """The names of these people (a page's), in one query per IMPORT_BATCH uids."""
        result: dict[str, str] = {}
        async with self._db.tx() as conn:
            for chunk in _chunks(sorted(set(uids)), IMPORT_BATCH):
                query = select(people.c.uid, people.c.name).where(people.c.uid.in_(chunk))
                result.update({r.uid: r.name for r in await conn.execute(query)})
        return result

    async def rooms(self) -> list[str]:
        """The timetable's rooms, sorted (the people list filters by them)."""
        query = (
            select(timetable.c.room)
            .where(timetable.c.room != "")
            .distinct()
            .order_by(timetable.c.room)
        )
        async with self._db.tx() as conn:
            return [str(r) for r in (await conn.scalars(query)).all()]

    async def unknown_swipes(self, *, limit: int = 50) -> list[UnknownSwipeRow]:
        """Recent swipes of cards nobody holds, most recent first."""
        assigned = exists().where(cards.c.card_key == unknown_swipes.c.card_key, ACTIVE_CARD)
        query = (
            select(unknown_swipes)
            .where(~assigned)
            .order_by(unknown_swipes.c.last_seen.desc(), unknown_swipes.c.card_key)
            .limit(max(0, limit))
        )
        async with self._db.tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_unknown_row(r) for r in rows]

    async def unknown_page(
        self,
        text: str = "",
        *,
        after: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> UnknownPage:
        """Cards nobody holds, most recently seen first (then by key), matching every
        word of `text`: in the card's key (hex digits, separators ignored: "04:a1" finds
        04A1...) or in the last reader's name; the page after the key `after` (keyset:
        a card seen meanwhile goes to the top, never shifting a later page)."""
        limit = max(1, min(limit, MAX_PAGE))
        u = unknown_swipes.c
        where: list[ColumnElement[bool]] = [
            ~exists().where(cards.c.card_key == u.card_key, ACTIVE_CARD)
        ]
        for term in search_words(text):
            matches: list[ColumnElement[bool]] = [
                fold_sql(u.last_reader, self._db.dialect).like(
                    like_pattern(fold(term)), escape="\\"
                )
            ]
            digits = _SEPARATORS.sub("", term).upper()
            if digits and _HEX.fullmatch(digits):
                matches.append(u.card_key.like(f"%{digits}%"))
            where.append(or_(*matches))
        page = select(unknown_swipes).where(*where)
        if after is not None:
            seen, key = after
            page = page.where(
                or_(u.last_seen < seen, and_(u.last_seen == seen, u.card_key > literal(key)))
            )
        page = page.order_by(u.last_seen.desc(), u.card_key).limit(limit + 1)
        total = select(func.count()).select_from(unknown_swipes).where(*where)
        async with self._db.tx() as conn:
            found = (await conn.execute(page)).all()
            count = int(await conn.scalar(total) or 0)
        rows = [_unknown_row(r) for r in found[:limit]]
        last = rows[-1] if len(found) > limit else None
        return UnknownPage(rows, count, None if last is None else (last.last_seen, last.card_key))

    async def unknown_state(self) -> str:
        """A fingerprint of the whole unknown-card list (how many, how many swipes, the
        latest): it changes whenever any page of the list would, so the live topic
        sends it and each open page fetches its own page again."""
        u = unknown_swipes.c
        query = select(
            func.count(), func.coalesce(func.sum(u.count), 0), func.max(u.last_seen)
        ).where(~exists().where(cards.c.card_key == u.card_key, ACTIVE_CARD))
        async with self._db.tx() as conn:
            n, swipes, latest = (await conn.execute(query)).one()
        return f"{n}:{swipes}:{latest}"

    async def check_import(
        self, rows: Sequence[PersonImport]
    ) -> tuple[list[ImportResult], list[str]]:
        """What importing `rows` would do, and every conflict with what is stored.

        A uid that exists with the same name is left as it is; with another name it is
        a conflict, as is a card held by someone else or given to an inactive person.
        Reads in chunks, in linear time; writes nothing.
        """
        rows = [_normalised(r) for r in rows]
        existing: dict[str, tuple[str, bool]] = {}
        holders: dict[str, tuple[str, str]] = {}
        uids = sorted({r.uid for r in rows})
        keys = sorted({r.card_key for r in rows if r.card_key})
        async with self._db.tx() as conn:
            for chunk in _chunks(uids, IMPORT_BATCH):
                query = select(people.c.uid, people.c.name, people.c.active).where(
                    people.c.uid.in_(chunk)
                )
                for r in await conn.execute(query):
                    existing[r.uid] = (r.name, r.active)
            for chunk in _chunks(keys, IMPORT_BATCH):
                query = (
                    select(cards.c.card_key, people.c.uid, people.c.name)
                    .join(people, cards.c.person_uid == people.c.uid)
                    .where(cards.c.card_key.in_(chunk), ACTIVE_CARD)
                )
                for r in await conn.execute(query):
                    holders[r.card_key] = (r.uid, r.name)
        results: list[ImportResult] = []
        problems: list[str] = []
        for row in rows:
            known = existing.get(row.uid)
            if known is None:
                person = "added"
            elif known[0] == row.name:
                person = "unchanged"
            else:
                problems.append(
                    f"line {row.line}: uid {row.uid!r} already exists with name {known[0]!r}"
                )
                person = "conflict"
            card = None
            if row.card_key:
                holder = holders.get(row.card_key)
                if holder is None:
                    card = "assigned"
                    if known is not None and not known[1]:
                        problems.append(f"line {row.line}: person {row.uid!r} is inactive")
                elif holder[0] == row.uid:
                    card = "unchanged"
                else:
                    problems.append(
                        f"line {row.line}: card {row.card_key} is held by {holder[0]} "
                        f"({holder[1]!r}): revoke it first with 'cards revoke {row.card_key}'"
                    )
                    card = "conflict"
            results.append(ImportResult(line=row.line, uid=row.uid, person=person, card=card))
        return results, problems

    async def import_people(
        self, rows: Sequence[PersonImport], *, dry_run: bool = False
    ) -> list[ImportResult]:
        """Add people and their cards: every row is checked first (ImportConflicts lists
        every conflict, and nothing is written), then written in transactions of
        IMPORT_BATCH rows, so that the daemon's own writes get in between (a 100,000-row
        import in one transaction held SQLite's write lock for minutes). A conflict that
        appears during the writing (someone else assigned a card meanwhile) stops it with
        the rows before written; the import is idempotent, so running it again finishes it.
        """
        rows = [_normalised(r) for r in rows]
        results, problems = await self.check_import(rows)
        if problems:
            raise ImportConflicts(problems)
        if dry_run:
            return results
        for first in range(0, len(rows), IMPORT_BATCH):
            batch = list(zip(rows[first : first + IMPORT_BATCH], results[first:], strict=False))
            try:
                async with self._db.tx(write=True) as conn:
                    new_people = [
                        {"uid": r.uid, "name": r.name} for r, x in batch if x.person == "added"
                    ]
                    if new_people:
                        await conn.execute(insert(people), new_people)
                    new_cards = [
                        {"card_key": r.card_key, "person_uid": r.uid}
                        for r, x in batch
                        if x.card == "assigned"
                    ]
                    if new_cards:
                        await conn.execute(insert(cards), new_cards)
            except IntegrityError:
                raise ConflictError(
                    f"lines {batch[0][0].line}-{batch[-1][0].line}: changed by someone else "
                    "during the import; the rows before them were imported: run it again"
                ) from None
        return results
