"""Reading `users import` files: uid, name and an optional card key per row.

Every row is checked before anything is written, and every problem is reported
with its line number, so a person can fix the whole file in one go.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from gateway.csvin import CsvRow, csv_rows, sniff_delimiter
from gateway.domain import normalise_card_key
from gateway.errors import GatewayError
from gateway.store import validate
from gateway.store.models import PersonImport

# Column names a header row may use (folded: lower case, no accents, '_' for spaces),
# English and Spanish, as spreadsheets and other systems export them.
_HEADER_NAMES = {
    **dict.fromkeys(
        (
            "uid",
            "id",
            "user",
            "user_id",
            "userid",
            "username",
            "login",
            "usuario",
            "identificador",
            "codigo",
        ),
        "uid",
    ),
    **dict.fromkeys(
        (
            "name",
            "fullname",
            "full_name",
            "display_name",
            "nombre",
            "nombre_completo",
            "nombre_y_apellidos",
            "apellidos_y_nombre",
            "apellidos_nombre",
        ),
        "name",
    ),
    **dict.fromkeys(
        ("card_key", "card", "key", "card_uid", "tarjeta", "clave", "llave"),
        "card_key",
    ),
}


def _fold(cell: str) -> str:
    decomposed = unicodedata.normalize("NFKD", cell.strip().lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "_".join(plain.replace("-", " ").split())


def _header(cells: list[str], line: int) -> tuple[list[str] | None, str | None]:
    """(column order, problem) if the row is a header; (None, None) if it is data.

    A row is a header when one of its cells is a column name: a person named "id"
    is far less likely than a header `id,fullname` (imported as such before).
    """
    folded = [_fold(c) for c in cells]
    known = [f for f in folded if f in _HEADER_NAMES]
    if not known:
        return None, None
    unknown = [c for c, f in zip(cells, folded, strict=True) if f and f not in _HEADER_NAMES]
    if unknown:
        return [], f"line {line}: unknown column {unknown[0]!r}"
    columns = [_HEADER_NAMES[f] for f in folded if f]
    if sorted(set(columns)) != sorted(columns) or not {"uid", "name"} <= set(columns):
        return [], f"line {line}: the header needs one uid and one name column, got {cells}"
    return columns, None


def parse_people_csv(
    text: str, *, max_rows: int | None = None
) -> tuple[list[PersonImport], list[str]]:
    """The rows to import and the problems found, each problem naming its line.

    Columns are uid, name and optionally card_key. A first row whose cells are
    column names is a header and may put the columns in any order.
    """
    text = text.removeprefix("\ufeff")  # the byte-order mark Excel writes
    return parse_people_rows(
        csv_rows(text, delimiter=sniff_delimiter(text[:4096])), max_rows=max_rows
    )


def parse_people_rows(
    rows: Iterable[CsvRow], *, max_rows: int | None = None
) -> tuple[list[PersonImport], list[str]]:
    """`parse_people_csv` for rows read already (a CSV's, or a spreadsheet's cells as
    CsvRow). With `max_rows`, a file with more data rows than that is one problem
    (on the first row past it) and nothing after it is read."""
    columns = ["uid", "name", "card_key"]
    out: list[PersonImport] = []
    problems: list[str] = []
    seen_uid: dict[str, int] = {}
    seen_key: dict[str, int] = {}
    data_rows = 0
    first = True
    for row in rows:
        line, cells = row.line, list(row.cells)
        if row.problem:
            problems.append(f"line {line}: {row.problem}")
            continue
        # Trailing empty cells are spreadsheet noise, but "bob," still lacks a name.
        while len(cells) > 2 and not cells[-1]:
            cells.pop()
        if first:
            first = False
            header, problem = _header(cells, line)
            if problem:
                problems.append(problem)
                return [], problems
            if header is not None:
                columns = header
                continue
        data_rows += 1
        if max_rows is not None and data_rows > max_rows:
            problems.append(
                f"line {line}: more than {max_rows} rows; at most {max_rows} are read "
                "(split the file)"
            )
            break
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
        out.append(PersonImport(line=line, uid=uid, name=name, card_key=key))
    return out, problems
