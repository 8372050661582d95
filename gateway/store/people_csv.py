"""Reading `users import` files: uid, name and an optional card key per row.

Every row is checked before anything is written, and every problem is reported
with its line number, so a person can fix the whole file in one go.
"""

from __future__ import annotations

from gateway.csvin import csv_rows, sniff_delimiter
from gateway.domain import normalise_card_key
from gateway.errors import GatewayError
from gateway.store import validate
from gateway.store.models import PersonImport

_HEADER_NAMES = {
    "uid": "uid",
    "name": "name",
    "card_key": "card_key",
    "card": "card_key",
    "key": "card_key",
}


def parse_people_csv(text: str) -> tuple[list[PersonImport], list[str]]:
    """The rows to import and the problems found, each problem naming its line.

    Columns are uid, name and optionally card_key. A first row whose cells are
    column names is a header and may put the columns in any order.
    """
    text = text.removeprefix("\ufeff")  # the byte-order mark Excel writes
    columns = ["uid", "name", "card_key"]
    rows: list[PersonImport] = []
    problems: list[str] = []
    seen_uid: dict[str, int] = {}
    seen_key: dict[str, int] = {}
    first = True
    for row in csv_rows(text, delimiter=sniff_delimiter(text[:4096])):
        line, cells = row.line, row.cells
        if row.problem:
            problems.append(f"line {line}: {row.problem}")
            continue
        # Trailing empty cells are spreadsheet noise, but "bob," still lacks a name.
        while len(cells) > 2 and not cells[-1]:
            cells.pop()
        if first:
            first = False
            lowered = [c.lower().replace(" ", "_") for c in cells]
            if "uid" in lowered and "name" in lowered:
                unknown = [c for c in lowered if c not in _HEADER_NAMES]
                if unknown:
                    problems.append(f"line {line}: unknown column {unknown[0]!r}")
                    return [], problems
                columns = [_HEADER_NAMES[c] for c in lowered]
                continue
        if len(cells) > len(columns) or len(cells) < 2:
            problems.append(
                f"line {line}: expected uid,name[,card_key], got {len(cells)} column(s)"
            )
            continue
        values = dict(zip(columns, cells, strict=False))
        try:
            uid = validate.uid(values.get("uid", ""))
            name = validate.name(values.get("name", ""))
            raw_key = values.get("card_key", "")
            key = normalise_card_key(raw_key) if raw_key else None
        except GatewayError as exc:
            problems.append(f"line {line}: {exc.message}")
            continue
        if uid in seen_uid:
            problems.append(f"line {line}: uid {uid!r} is also on line {seen_uid[uid]}")
            continue
        if key is not None and key in seen_key:
            problems.append(f"line {line}: card {key} is also on line {seen_key[key]}")
            continue
        seen_uid[uid] = line
        if key is not None:
            seen_key[key] = line
        rows.append(PersonImport(line=line, uid=uid, name=name, card_key=key))
    return rows, problems
