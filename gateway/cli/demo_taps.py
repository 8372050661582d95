"""Tapping cards from the terminal while `demo --web` serves the board.

The daemon and both emulated readers stay up while the board is served, so the
person trying the demo can tap and watch the board change: a line typed in the
terminal is a tap. A name, a uid or a card key taps at the entrance; `out ...` taps
at the exit; `new` taps a card nobody holds (it then waits on /people for an admin to
enrol it). Who holds which card is read from the demo's database at each tap, so a
card enrolled on the web page works at once.

Only the demo has this: it drives the demo's own emulated readers, in the demo's own
process; the web application (`clock-gateway web`) has no tapping route at all.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.cli.emulate import parse_card
from gateway.errors import InvalidInputError
from gateway.store.models import PersonRow

HELP = (
    "  NAME, UID or CARD KEY   tap at the entrance (e.g. ana, luis, 04A1B2C3)",
    "  out NAME                tap at the exit",
    "  new                     tap a card nobody holds (enrol it on /people)",
    "  help                    this list",
)


@dataclass(frozen=True)
class Tap:
    """What a typed line asks for: a card on a reader, and whose it is (for the print)."""

    direction: str  # "in" | "out"
    card_key: str
    who: str


def _folded(text: str) -> str:
    """Lower case without accents, so `garcia` finds García."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _holder(people: list[PersonRow], key: str) -> str:
    for person in people:
        if key in person.cards:
            return person.name
    return "(unknown card)"


def _person(people: list[PersonRow], word: str) -> PersonRow:
    wanted = _folded(word)
    exact = [p for p in people if _folded(p.uid) == wanted or _folded(p.name) == wanted]
    found = exact or [p for p in people if _folded(p.name).split()[:1] == [wanted]]
    if not found:
        raise InvalidInputError(
            f"nobody called {word!r}, and it is not a card key (8, 14 or 20 hex digits); type help"
        )
    if len(found) > 1:
        uids = ", ".join(p.uid for p in found)
        raise InvalidInputError(f"{word!r} could be {uids}: type the uid")
    person = found[0]
    if not person.cards:
        raise InvalidInputError(
            f"{person.name} has no card: type new, then enrol that card for them on /people"
        )
    return person


def parse_line(line: str, people: list[PersonRow]) -> Tap | None:
    """The tap a line asks for; None for a blank line. Bad input: InvalidInputError."""
    words = line.split()
    if not words:
        return None
    direction = "in"
    if words[0].lower() in ("in", "out"):
        direction, words = words[0].lower(), words[1:]
        if not words:
            raise InvalidInputError(f"{direction} whom? e.g. {direction} ana")
    text = " ".join(words)
    if text.lower() == "new":
        key = "04" + os.urandom(3).hex().upper()
        return Tap(direction, key, "(new card)")
    try:
        key = parse_card(text).hex().upper()
    except InvalidInputError:
        person = _person(people, text)
        return Tap(direction, person.cards[0], person.name)
    return Tap(direction, key, _holder(people, key))


async def tap_lines(
    lines: Callable[[], Awaitable[str | None]],
    people: Callable[[], Awaitable[list[PersonRow]]],
    tap: Callable[[Tap], Awaitable[None]],
) -> None:
    """Tap what each line asks for until end of input (the board is served on)."""
    while (line := await lines()) is not None:
        if line.strip().lower() in ("help", "?"):
            print("\n".join(HELP), flush=True)
            continue
        try:
            wanted = parse_line(line, await people())
        except InvalidInputError as exc:
            print(f"  {exc}", flush=True)
            continue
        if wanted is not None:
            await tap(wanted)
