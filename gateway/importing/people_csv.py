"""Reading `users import` files: uid, name and an optional card key per row, and
optionally each person's working regime (issue 22 item 1).

Every row is checked before anything is written, and every problem is reported
with its line number, so a person can fix the whole file in one go.

Regime columns need a header (they have no fixed place): regime (full_time or
part_time, also in Spanish), part_time_percent, weekly_hours, place (on_site, remote,
mixed), regime_from (YYYY-MM-DD, required with any other regime cell) and overtime
(paid or rest). A row whose regime cells are all empty sets no regime.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from gateway.csvin import CsvRow, csv_rows, sniff_delimiter
from gateway.domain import normalise_card_key
from gateway.errors import GatewayError, InvalidInputError
from gateway.store import validate
from gateway.store.models import PersonImport
from gateway.store.regimes import Terms, terms

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
    # The working regime (optional, header only).
    **dict.fromkeys(("regime", "regimen", "jornada", "contract", "contrato"), "regime"),
    **dict.fromkeys(
        ("part_time_percent", "percent", "pct", "porcentaje", "parcialidad"), "part_time_percent"
    ),
    **dict.fromkeys(
        ("weekly_hours", "hours_per_week", "horas_semanales", "horas_semana", "horas"),
        "weekly_hours",
    ),
    **dict.fromkeys(("place", "work_place", "modalidad", "lugar"), "place"),
    **dict.fromkeys(
        ("regime_from", "valid_from", "from", "desde", "fecha_inicio", "inicio"), "regime_from"
    ),
    **dict.fromkeys(("overtime", "horas_extra", "extras"), "overtime"),
}
REGIME_COLUMNS = ("regime", "part_time_percent", "weekly_hours", "place", "regime_from", "overtime")
# Cell values, folded, English and Spanish.
_KINDS = {
    **dict.fromkeys(
        ("full_time", "full", "completa", "tiempo_completo", "jornada_completa"), "full"
    ),
    **dict.fromkeys(("part_time", "part", "parcial", "tiempo_parcial", "jornada_parcial"), "part"),
}
_PLACES = {
    **dict.fromkeys(("on_site", "onsite", "office", "presencial"), "on_site"),
    **dict.fromkeys(("remote", "remoto", "teletrabajo", "a_distancia", "distancia"), "remote"),
    **dict.fromkeys(("mixed", "hybrid", "mixto", "mixta", "hibrido", "hibrida"), "mixed"),
}
_OVERTIME = {
    **dict.fromkeys(("paid", "pay", "pagadas", "pagada", "pago", "retribuidas"), "paid"),
    **dict.fromkeys(("rest", "time_off", "descanso", "compensadas", "compensacion"), "rest"),
}


@dataclass(frozen=True)
class RegimeRow:
    """A regime the file sets: for `uid` from `valid_from`."""

    line: int
    uid: str
    valid_from: date
    terms: Terms


@dataclass
class PeopleFile:
    rows: list[PersonImport] = field(default_factory=list)
    regimes: list[RegimeRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


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


def _number(cell: str, what: str) -> float:
    try:
        value = float(cell.replace(",", ".").replace("%", "").strip())
    except ValueError:
        raise InvalidInputError(f"{what} must be a number, got {cell!r}") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a number, got {cell!r}")
    return value


def regime_of(values: dict[str, str], full_week_minutes: int) -> tuple[date, Terms] | None:
    """The regime a row's cells set (None: its regime cells are empty); a one-line
    refusal naming the cell that is wrong."""
    cells = {c: values.get(c, "").strip() for c in REGIME_COLUMNS}
    if not any(cells.values()):
        return None
    if not cells["regime_from"]:
        raise InvalidInputError("regime_from is needed with a regime (the date it starts)")
    try:
        valid_from = date.fromisoformat(cells["regime_from"])
    except ValueError:
        raise InvalidInputError(
            f"regime_from must be a date YYYY-MM-DD, got {cells['regime_from']!r}"
        ) from None
    kind = _KINDS.get(_fold(cells["regime"])) if cells["regime"] else None
    if cells["regime"] and kind is None:
        raise InvalidInputError(f"regime must be full_time or part_time, got {cells['regime']!r}")
    percent = None
    if cells["part_time_percent"]:
        number = _number(cells["part_time_percent"], "part_time_percent")
        if number != int(number):
            raise InvalidInputError(f"part_time_percent must be a whole number, got {number:g}")
        percent = int(number)
    hours = _number(cells["weekly_hours"], "weekly_hours") if cells["weekly_hours"] else None
    if kind == "full" and percent is not None:
        raise InvalidInputError("a full-time regime has no part_time_percent")
    if kind == "part" and percent is None:
        if hours is None:
            raise InvalidInputError("a part-time regime needs part_time_percent or weekly_hours")
        percent = min(99, max(1, round(hours * 60 * 100 / full_week_minutes)))
    if not cells["place"]:
        raise InvalidInputError("place is needed with a regime (on_site, remote or mixed)")
    place = _PLACES.get(_fold(cells["place"]))
    if place is None:
        raise InvalidInputError(f"place must be on_site, remote or mixed, got {cells['place']!r}")
    overtime = _OVERTIME.get(_fold(cells["overtime"])) if cells["overtime"] else "paid"
    if overtime is None:
        raise InvalidInputError(f"overtime must be paid or rest, got {cells['overtime']!r}")
    return valid_from, terms(
        part_time_percent=percent,
        weekly_hours=hours,
        place=place,
        overtime=overtime,
        full_week_minutes=full_week_minutes,
    )


def parse_people_csv(
    text: str, *, max_rows: int | None = None
) -> tuple[list[PersonImport], list[str]]:
    """The rows to import and the problems found, each problem naming its line.

    Columns are uid, name and optionally card_key. A first row whose cells are
    column names is a header and may put the columns in any order (and add the
    regime columns: parse_people_file gives the regimes too).
    """
    parsed = parse_people_file(text, max_rows=max_rows)
    return parsed.rows, parsed.problems


def parse_people_file(
    text: str, *, full_week_minutes: int = 40 * 60, max_rows: int | None = None
) -> PeopleFile:
    """The people, the regimes and every problem of a `users import` file."""
    text = text.removeprefix("\ufeff")  # the byte-order mark Excel writes
    rows = csv_rows(text, delimiter=sniff_delimiter(text[:4096]))
    return parse_people_table(rows, full_week_minutes=full_week_minutes, max_rows=max_rows)


def parse_people_rows(
    rows: Iterable[CsvRow], *, max_rows: int | None = None
) -> tuple[list[PersonImport], list[str]]:
    """`parse_people_csv` for rows read already (a CSV's, or a spreadsheet's cells as
    CsvRow)."""
    parsed = parse_people_table(rows, max_rows=max_rows)
    return parsed.rows, parsed.problems


def parse_people_table(
    rows: Iterable[CsvRow], *, full_week_minutes: int = 40 * 60, max_rows: int | None = None
) -> PeopleFile:
    """The people, the regimes and every problem of rows read already. With
    `max_rows`, a file with more data rows than that is one problem (on the first row
    past it) and nothing after it is read."""
    columns = ["uid", "name", "card_key"]
    parsed = PeopleFile()
    out, problems = parsed.rows, parsed.problems
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
                parsed.rows = []
                return parsed
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
            regime = regime_of(values, full_week_minutes)
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
        if regime is not None:
            parsed.regimes.append(RegimeRow(line, uid, *regime))
    return parsed
