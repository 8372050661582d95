"""An .xlsx bounded before openpyxl reads it (issue 24): one line, never gigabytes.

openpyxl trusts the file. It pads every row up to the sheet's claimed dimension and
yields every missing row up to the last one, so a 5 KB file whose dimension (or one
cell) says XFD1048576 grew past 3 GB; and it builds a whole `<row>` in memory before
looking at it, so a row of a million empty cells (5 KB zipped) takes 330 MB. Before
openpyxl opens the file, `check_xlsx` refuses what would run away:

- parts that unpack to more than MAX_UNPACKED, from the archive's directory (nothing
  is unpacked; zipfile never unpacks more of a part than its declared size);
- more than MAX_ELEMENTS XML elements in the sheets and their shared strings, or
  MAX_OTHER_ELEMENTS in the other parts (styles, themes...: openpyxl makes an object
  of each, 1,000,000 empty styles took 34 s and 640 MB), which bounds what openpyxl
  can build whatever the part;
- a sheet row past MAX_ROWS or a cell past column MAX_COLUMNS, counted as openpyxl
  counts them (a row or cell without a position follows the one before).

Every XML part is scanned as a stream (expat, constant memory), stopping at the first
limit passed. The reader then ignores the claimed dimension, so it neither pads nor
cuts. The row and column limits are an .xls sheet's, far above any timetable (300
people on a grid sheet are 302 rows and 61 columns).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import IO
from xml.parsers import expat

from gateway.errors import InvalidInputError

MAX_ROWS = 65_536
MAX_COLUMNS = 256  # A to IV
# A 20,000-row long timetable written by openpyxl unpacks to 6 MB, with 320,000
# elements in its sheet and under 500 in its styles and theme; Excel's own cap on cell
# formats (64,000) stays within MAX_OTHER_ELEMENTS.
MAX_ELEMENTS = 1_000_000
MAX_OTHER_ELEMENTS = 100_000
MAX_UNPACKED = 64 * 2**20
# The SpreadsheetML namespaces (transitional, strict) whose `row` and `c` are a sheet's.
_SHEET_NAMESPACES = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
# The parts whose elements count as MAX_ELEMENTS: sheets and their shared strings.
_SHEET_ROOTS = frozenset(
    f"{ns} {root}" for ns in _SHEET_NAMESPACES for root in ("worksheet", "sst")
)
_COORDINATE = re.compile(r"\$?([A-Za-z]+)\$?[0-9]+")
_CHUNK = 64 * 1024


class _Refused(Exception):
    """A limit passed, raised from inside an expat handler through Parse()."""


def check_xlsx(path: Path, *, max_rows: int = MAX_ROWS) -> None:
    """Raise InvalidInputError (one line naming the limit) for an .xlsx past the limits
    above or that is not a zip of well-formed XML; return None for one openpyxl may read.
    `max_rows` lowers MAX_ROWS (an upload's row limit)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            unpacked = sum(m.file_size for m in members)
            if unpacked > MAX_UNPACKED:
                raise _Refused(
                    f"unpacks to {-(-unpacked // 2**20)} MB; at most {MAX_UNPACKED // 2**20} MB "
                    "are read"
                )
            scan = _Scan(min(max_rows, MAX_ROWS))
            for member in members:
                with archive.open(member) as part:
                    scan.part(member.filename, part)
    except _Refused as exc:
        raise InvalidInputError(f"{path}: {exc} (save the timetable as CSV)") from None
    except (
        zipfile.BadZipFile,  # not a zip, or a member's CRC is wrong
        zipfile.LargeZipFile,
        expat.ExpatError,  # not well-formed XML
        ValueError,  # a row number that is no number
        OverflowError,  # a row number of 1e400
        OSError,  # a truncated stream
        EOFError,
        RuntimeError,  # an encrypted member
        NotImplementedError,  # a compression method zipfile lacks
    ) as exc:
        lines = str(exc).strip().splitlines()
        reason = lines[0][:120] if lines else type(exc).__name__
        raise InvalidInputError(f"{path}: not a readable .xlsx file ({reason})") from None


class _Scan:
    """Counts, across the parts of one archive, what openpyxl would build."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.elements = 0  # in sheets and shared strings
        self.other_elements = 0
        self.name = ""
        self.root: str | None = None  # the part's first element, namespaced
        self.row = self.column = 0

    def part(self, name: str, stream: IO[bytes]) -> None:
        head = stream.read(_CHUNK)
        if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            return  # an image or another binary part: openpyxl parses no such part
        self.name, self.root, self.row, self.column = name, None, 0, 0
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = self._start
        chunk = head
        while chunk:
            parser.Parse(chunk, False)
            chunk = stream.read(_CHUNK)
        parser.Parse(b"", True)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        if self.root is None:
            self.root = name
        if self.root not in _SHEET_ROOTS:
            self.other_elements += 1
            if self.other_elements > MAX_OTHER_ELEMENTS:
                raise _Refused(
                    f"{self.name} and the other parts beside the sheets pass "
                    f"{MAX_OTHER_ELEMENTS} XML elements; at most that many are read"
                )
            return
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise _Refused(
                f"its sheets pass {MAX_ELEMENTS} XML elements; at most that many are read"
            )
        namespace, _, local = name.rpartition(" ")
        if namespace not in _SHEET_NAMESPACES:
            return
        if local == "row":
            number = attrs.get("r")
            self.row = int(float(number)) if number else self.row + 1
            self.column = 0
            if self.row > self.max_rows:
                raise _Refused(
                    f"{self.name} reaches row {self.row}; at most {self.max_rows} rows are read"
                )
        elif local == "c":
            found = _COORDINATE.fullmatch(attrs.get("r", ""))
            self.column = _column_number(found.group(1)) if found else self.column + 1
            if self.column > MAX_COLUMNS:
                where = found.group(0) if found else f"column {self.column}"
                raise _Refused(
                    f"{self.name} has a cell at {where}; at most {MAX_COLUMNS} columns "
                    "(A to IV) are read"
                )


def _column_number(letters: str) -> int:
    """'A' -> 1, 'IV' -> 256, 'XFD' -> 16384."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number
