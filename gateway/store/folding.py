"""Names folded for searching and sorting: case and accents ignored (José = jose,
Núñez = nunez, Col·legi = collegi), the same on SQLite and PostgreSQL.

Neither backend folds alike by itself: SQLite's lower() knows only ASCII,
PostgreSQL's depends on the database's locale, and unaccent is an extension a school's
database may not have. So the folding is one table, used three ways: `fold` (Python's
str.translate) for the text typed into the search box; on SQLite the same function,
registered on every connection as `gw_fold` (`sqlite_fold`, engine.py); on PostgreSQL translate()
with the table's one-letter entries and replace() for the two-letter ones. A letter
outside the table is left as it is by all three.
"""

from __future__ import annotations

import functools
import string
import unicodedata

from sqlalchemy import func
from sqlalchemy.sql.expression import ColumnElement

SQLITE_FUNCTION = "gw_fold"

_GROUPS = {
    "a": "áàâäãåÁÀÂÄÃÅ",
    "e": "éèêëÉÈÊË",
    "i": "íìîïÍÌÎÏ",
    "o": "óòôöõøÓÒÔÖÕØ",
    "u": "úùûüÚÙÛÜ",
    "n": "ñÑ",
    "c": "çÇ",
    "y": "ýÿÝ",
    "l": "łŀŁĿ",
}
_PAIRS = {"æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe"}
# Catalan's middle dot (l·l) and the combining marks of a name typed decomposed (NFD).
_DROPPED = "·\u0300\u0301\u0302\u0303\u0308\u0327"

_SOURCES = string.ascii_uppercase + "".join(_GROUPS.values())
_TARGETS = string.ascii_lowercase + "".join(t * len(s) for t, s in _GROUPS.items())
_TABLE: dict[int, str | None] = {
    **{ord(s): t for s, t in zip(_SOURCES, _TARGETS, strict=True)},
    **{ord(k): v for k, v in _PAIRS.items()},
    **{ord(ch): None for ch in _DROPPED},
}


def fold(text: str) -> str:
    return text.translate(_TABLE)


@functools.lru_cache(maxsize=16384)
def _cached_fold(text: str) -> str:
    return text.translate(_TABLE)


def sqlite_fold(value: object) -> object:
    """`fold` as SQLite's gw_fold, called once per row and column a search reads: the
    same few thousand names each time, hence the cache. NULL stays NULL."""
    return _cached_fold(value) if isinstance(value, str) else value


def fold_sql(column: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """`column` folded as `fold` folds text, on this backend."""
    if dialect == "sqlite":
        return getattr(func, SQLITE_FUNCTION)(column)  # type: ignore[no-any-return]
    expression = column
    for source, target in _PAIRS.items():
        expression = func.replace(expression, source, target)
    # translate() drops the characters of its second argument that have no
    # counterpart in the third: the dropped marks go last.
    return func.translate(expression, _SOURCES + _DROPPED, _TARGETS)


MAX_WORDS = 10


def search_words(text: str) -> list[str]:
    """The words of a search, without control or format characters (a NUL is an error
    to PostgreSQL, not a letter to look for), at most MAX_WORDS of them."""
    words = (
        "".join(ch for ch in w if not unicodedata.category(ch).startswith("C"))
        for w in text.split()
    )
    return [w for w in words if w][:MAX_WORDS]


def like_pattern(text: str) -> str:
    """'%text%' with LIKE's wildcards in `text` escaped (use with escape='\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
