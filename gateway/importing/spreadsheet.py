"""The first sheet of a spreadsheet as rows of cell texts: .xlsx (openpyxl) or .xls (xlrd).

Both readers are the optional `xlsx` extra: the daemon never reads spreadsheets, and
CSV needs neither. Cells come back as text with their line breaks kept (the grid
timetable puts two lines in a slot header and several in an entry); times and whole
numbers are written the way a person would type them. Merged cells hold their value
in the top-left cell only, which is how both libraries report them.

An .xlsx is bounded before openpyxl opens it (xlsx_bounds.check_xlsx) and read
without its claimed dimension; an .xls cannot pass 65,536 rows by 256 columns, and
its rows are read as long as their last cell (ragged), never padded.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

from gateway.errors import GatewayError, InvalidInputError, NotFoundError
from gateway.importing.xlsx_bounds import MAX_COLUMNS, MAX_ROWS, MAX_UNPACKED, check_xlsx

SPREADSHEET_SUFFIXES = (".xlsx", ".xls")
_INSTALL = "pip install 'clock-gateway[xlsx]'"


def is_spreadsheet(path: Path) -> bool:
    return path.suffix.lower() in SPREADSHEET_SUFFIXES


def read_sheet(path: Path, *, max_rows: int = MAX_ROWS) -> list[list[str]]:
    """Every row of the first sheet (empty rows included, so that row i is line i+1),
    each cell as stripped text with '\\n' line breaks, trailing empty cells dropped.
    `max_rows` (at most MAX_ROWS) lowers the rows an .xlsx or .xls may reach, checked
    before its rows are read (an upload's limit)."""
    if not path.is_file():
        raise NotFoundError(f"{path}: file not found")
    max_rows = min(max_rows, MAX_ROWS)
    if path.suffix.lower() == ".xls":
        rows = _xls_rows(path, max_rows)
    else:
        rows = _xlsx_rows(path, max_rows)
    for cells in rows:
        while cells and not cells[-1]:
            cells.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _xlsx_rows(path: Path, max_rows: int) -> list[list[str]]:
    try:
        import openpyxl  # optional extra
    except ImportError:
        raise GatewayError(f"reading .xlsx needs openpyxl: {_INSTALL} (or save as CSV)") from None
    check_xlsx(path, max_rows=max_rows)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InvalidInputError(f"{path}: not a readable .xlsx file ({_reason(exc)})") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the claimed size neither pads rows nor cuts them
        return [[cell_text(v) for v in values] for values in sheet.iter_rows(values_only=True)]
    except Exception as exc:  # a damaged cell is found only while reading it
        raise InvalidInputError(f"{path}: not a readable .xlsx file ({_reason(exc)})") from None
    finally:
        book.close()


def _xls_rows(path: Path, max_rows: int) -> list[list[str]]:
    try:
        import xlrd  # optional extra
    except ImportError:
        raise GatewayError(f"reading .xls needs xlrd: {_INSTALL} (or save as CSV)") from None
    size = path.stat().st_size
    if size > MAX_UNPACKED:  # xlrd reads the whole file
        raise InvalidInputError(
            f"{path}: {size // 2**20} MB; at most {MAX_UNPACKED // 2**20} MB are read "
            "(save the timetable as CSV)"
        )
    try:
        # Ragged: a row as long as its last cell, never padded to the widest one.
        book = xlrd.open_workbook(str(path), on_demand=True, ragged_rows=True)
        try:
            return _xls_sheet(path, book, xlrd, max_rows)
        finally:
            book.release_resources()
    except GatewayError:
        raise
    except Exception as exc:  # xlrd raises XLRDError, struct.error, ... for a damaged file
        raise InvalidInputError(f"{path}: not a readable .xls file ({_reason(exc)})") from None


def _xls_sheet(path: Path, book: Any, xlrd: Any, max_rows: int) -> list[list[str]]:
    sheet = book.sheet_by_index(0)
    if sheet.nrows > max_rows:  # the format's own limits; checked as for an .xlsx
        raise InvalidInputError(f"{path}: more than {max_rows} rows; at most that many are read")
    rows = []
    for r in range(sheet.nrows):
        width = sheet.row_len(r)
        if width > MAX_COLUMNS:
            raise InvalidInputError(
                f"{path}: row {r + 1} is wider than {MAX_COLUMNS} columns; at most that many "
                "are read"
            )
        row = []
        for c in range(width):
            cell = sheet.cell(r, c)
            value: Any = cell.value
            if cell.ctype == xlrd.XL_CELL_DATE:
                value = xlrd.xldate.xldate_as_datetime(value, book.datemode)
            elif cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_BOOLEAN):
                value = ""
            row.append(cell_text(value))
        rows.append(row)
    return rows


def cell_text(value: Any) -> str:
    """A cell value as the text a person reads in it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__
