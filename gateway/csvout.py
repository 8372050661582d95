"""Every CSV the project writes goes through here, so no cell is a live formula.

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@`
(and, in some, one starting with a tab or a carriage return) as a formula: a
person named `=HYPERLINK(...)` would become a link in the payroll sheet. As
OWASP recommends, such a cell is written with a leading `'`, which spreadsheets
show as text. Plain numbers (`-1.5`, `-0:15`) are left alone: they are data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A negative number or duration is a value, not a formula.
_PLAIN_NUMBER = re.compile(r"-?\d+(?:[.:]\d+)?")


def neutralise(value: Any) -> Any:
    """The cell as it may be written: None as empty, a formula-like text quoted."""
    if value is None:
        return ""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer's writerow/writerows, with every cell neutralised."""

    def __init__(self, stream: TextIO, **options: Any) -> None:
        options.setdefault("lineterminator", "\n")
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: TextIO, **options: Any) -> SafeWriter:
    """The writer every CSV output of the project uses (reports, export, lists)."""
    return SafeWriter(stream, **options)
