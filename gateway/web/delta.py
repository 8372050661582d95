"""What changed between two versions of a live document: sent instead of the whole.

On a busy day the board's document is about 140 KB (2,000 rows) and a tap changes a
row or two: sending it whole to 100 boards at 20 taps a second is 280 MB/s through
the web and every browser. A delta carries the keys whose value changed (`set`) and,
for each list of rows, the splices that turn the old list into the new one
(`splice`: [index, how many to delete, the rows to insert], applied one after the
other, each index in the list as the earlier splices left it), as JavaScript's
Array.prototype.splice takes them (gateway/web/static/board.js applies them).

The lists are walked once, side by side. LiveBoard (gateway/web/board.py) reuses an
unchanged row's object, so "the same row" is first asked by identity, then by
equality (a plan rebuild builds equal rows again). Whatever pairs the walk finds, the
splices always rebuild the new list exactly: each step keeps a row equal in both,
deletes an old row or inserts a new one. When the delta is not much smaller than the
document (a new plan, a new day: MAX_SHARE), the hub sends the document instead.
"""

from __future__ import annotations

from typing import Any

# A delta at least this share of the whole document is not worth it.
MAX_SHARE = 0.5

Splice = list[Any]  # [index, deleted, [rows inserted]]


def _same(a: Any, b: Any) -> bool:
    return a is b or a == b


def splices(old: list[Any], new: list[Any]) -> list[Splice]:
    """The splices that make `old` into `new`."""
    old_ids = {id(r) for r in old}
    new_ids = {id(r) for r in new}
    ops: list[Splice] = []
    i = j = 0
    n, m = len(old), len(new)
    while True:
        while i < n and j < m and _same(old[i], new[j]):
            i += 1
            j += 1
        if i == n and j == m:
            return ops
        start, deleted, inserted = j, 0, []
        while i < n and j < m and not _same(old[i], new[j]):
            if id(old[i]) not in new_ids:
                i += 1  # gone from the new list
                deleted += 1
            elif id(new[j]) not in old_ids:
                inserted.append(new[j])  # not in the old one
                j += 1
            else:  # both rows are in the other list, elsewhere: drop the old one here
                i += 1
                deleted += 1
        if i == n:
            inserted.extend(new[j:])
            j = m
        elif j == m:
            deleted += n - i
            i = n
        ops.append([start, deleted, inserted])


def delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """{"set": {key: value}, "splice": {key: splices}, "drop": [keys]} from `old` to
    `new` (a list that was not one before goes in `set`, whole)."""
    changed: dict[str, Any] = {}
    spliced: dict[str, list[Splice]] = {}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, list) and isinstance(before, list):
            if before is not value:
                ops = splices(before, value)
                if ops:
                    spliced[key] = ops
        elif key not in old or not _same(before, value):
            changed[key] = value
    dropped = [key for key in old if key not in new]
    return {"set": changed, "splice": spliced, "drop": dropped}


def apply(document: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """The new document from the old and a delta (what board.js does; for tests)."""
    result = {k: v for k, v in document.items() if k not in change["drop"]}
    result.update(change["set"])
    for key, ops in change["splice"].items():
        rows = list(result[key])
        for index, deleted, inserted in ops:
            rows[index : index + deleted] = inserted
        result[key] = rows
    return result
