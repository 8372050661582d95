"""Uids derived from display names, and finding the person a name in a file means.

A timetable sheet names people as its timetabling software writes them,
`Surnames, Given name (ABBR)`; the database knows them by uid. `name_key` folds a
name to a stable ASCII form in given-name-first order ('García López, Ana (AGL)' ->
'ana.garcia.lopez'), the same for 'Ana García López', so a person added by hand is
found again. `PeopleMatcher` resolves names in a fixed order (exact name, uid, key)
and derives new uids for the people it may create; a re-import of the same sheet
finds them by their exact name again, so nobody is created twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from anyascii import anyascii

from gateway.store.validate import MAX_UID

_ABBREVIATION = re.compile(r"\s*\([^()]*\)\s*$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# Room left for a collision suffix ('-12') inside MAX_UID.
_BASE_MAX = MAX_UID - 6


def display_name(text: str) -> str:
    """The name as written, with runs of whitespace (line breaks too) as one space."""
    return " ".join(text.split())


def name_key(text: str) -> str:
    """'García López, Ana (AGL)' -> 'ana.garcia.lopez'; '' when nothing is left."""
    name = _ABBREVIATION.sub("", display_name(text))
    if "," in name:
        surnames, _, given = name.partition(",")
        name = f"{given} {surnames}"
    folded = _NOT_ALNUM.sub(".", anyascii(name).lower()).strip(".")
    return folded[:_BASE_MAX].rstrip(".")


def derive_uid(text: str, taken: Iterable[str] | set[str]) -> str:
    """A uid for a new person: the name key, or with '-2', '-3'... when taken."""
    used = taken if isinstance(taken, set) else set(taken)
    base = name_key(text) or "person"
    if base not in used:
        return base
    n = 2
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


@dataclass
class Resolution:
    uid: str | None = None
    created: bool = False
    problem: str | None = None


@dataclass
class PeopleMatcher:
    """Resolves display names to uids against the people already stored.

    Order: the exact name (whitespace folded), then a uid written as the name, then
    the name key against stored names and uids. A name that fits two stored people
    is a problem, never a guess; so is a stored person two different names of the
    same file would both resolve to.
    """

    people: Iterable[tuple[str, str]]  # (uid, name)
    create: bool = False
    _by_name: dict[str, list[str]] = field(init=False, default_factory=dict)
    _by_key: dict[str, list[str]] = field(init=False, default_factory=dict)
    _uids: set[str] = field(init=False, default_factory=set)
    _claimed: dict[str, str] = field(init=False, default_factory=dict)  # uid -> file name

    def __post_init__(self) -> None:
        for uid, name in self.people:
            self._uids.add(uid)
            self._by_name.setdefault(display_name(name), []).append(uid)
            for key in {name_key(name), uid}:
                if key:
                    uids = self._by_key.setdefault(key, [])
                    if uid not in uids:
                        uids.append(uid)

    def resolve(self, text: str) -> Resolution:
        name = display_name(text)
        found = self._by_name.get(name) or ([name] if name in self._uids else None)
        if not found:
            found = self._by_key.get(name_key(name)) if name_key(name) else None
        if found and len(found) > 1:
            return Resolution(
                problem=f"{name!r} fits several people ({', '.join(sorted(found))}): "
                "write the name exactly as 'users list' shows it"
            )
        if found:
            uid = found[0]
            other = self._claimed.get(uid)
            if other is not None and other != name:
                return Resolution(
                    problem=f"{name!r} and {other!r} would both be {uid}: "
                    "write the names exactly as 'users list' shows them"
                )
            self._claimed[uid] = name
            return Resolution(uid=uid)
        if not self.create:
            return Resolution(
                problem=f"no person named {name!r} (add them, or import with --create-people)"
            )
        uid = derive_uid(name, self._uids)
        self._uids.add(uid)
        self._by_name[name] = [uid]
        self._claimed[uid] = name
        return Resolution(uid=uid, created=True)
