"""Reading CSV files people hand us: rows with their line numbers, and every problem
of the file's syntax as a line-numbered message instead of an exception.

The csv module raises on a field over its size limit (128 KiB) and, with
`strict`, on a stray quote; and a quote left open swallows the following lines
into one field. Imports want to list every problem of a file in one run, so
each row comes with the problem found on it (if any) and reading goes on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # the row's first line in the file, from 1
    cells: list[str]  # stripped; empty when `problem` is set
    problem: str | None = None


def sniff_delimiter(sample: str) -> str:
    """',' or ';' (spreadsheets in Spanish locales save with ';'), or a tab."""
    counts = {d: sample.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def csv_rows(text: str, *, delimiter: str, multiline: bool = False) -> Iterator[CsvRow]:
    """Each non-empty row of `text` (a BOM removed), or the problem that spoiled it.

    With `multiline=False` (no cell of this kind of file holds a line break), a
    quoted field running over several lines is reported as an unterminated quote
    at the line where it started, and the lines it swallowed are read again as
    rows of their own, so one stray quote costs one row, not the rest of the file.
    Linear in the file's size: after a problem, reading resumes on the next line.
    """
    # Split as the csv module would (\n, \r\n or \r), keeping the line ends.
    lines = io.StringIO(text.removeprefix("\ufeff"), newline="").readlines()
    start = 0  # index into `lines` of the next row's first line
    while start < len(lines):
        reader = csv.reader(_from(lines, start), delimiter=delimiter, strict=True)
        row_start = start
        try:
            for cells in reader:
                consumed = start + reader.line_num
                if not multiline and consumed - row_start > 1:
                    yield CsvRow(row_start + 1, [], _UNTERMINATED)
                    break
                first_line, row_start = row_start + 1, consumed
                stripped = [c.strip() for c in cells]
                if any(stripped):
                    yield CsvRow(first_line, stripped)
            else:
                return
        except csv.Error as exc:
            ran_on = start + reader.line_num > row_start + 1
            problem = _UNTERMINATED if ran_on and not multiline else _explain(exc)
            yield CsvRow(row_start + 1, [], problem)
        start = row_start + 1  # the lines a bad row swallowed are read again


_UNTERMINATED = 'unterminated quote: a " opens a field that runs on to the next line'


def _from(lines: list[str], start: int) -> Iterator[str]:
    for index in range(start, len(lines)):
        yield lines[index]


def _explain(error: csv.Error) -> str:
    text = str(error)
    if "field larger than field limit" in text:
        return f"a field is longer than {csv.field_size_limit()} characters"
    if "unexpected end of data" in text or "EOF" in text:
        return _UNTERMINATED
    return f"not valid CSV ({text})"
