"""The register export's xlsx and PDF.

Both faces (the CLI's `register export` and the web's /register/export) hand
`write_documents` to gateway.reports.export, which never imports a spreadsheet
library itself (tests/test_architecture.py). fpdf2 writes the PDF (pure Python, small,
no system libraries); the xlsx is written as its XML parts directly (below). Plain
tables in, files out: nothing here reads the database.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from fpdf import FPDF

from gateway.csvout import neutralise

# (name, header, rows) of one table: gateway.reports.export.Sheet, the same shape.
Sheet = tuple[str, list[str], list[list[Any]]]


# An xlsx is a zip of a few XML parts. The sheets are written here as XML text, one
# row at a time, with every text an inline string (never a formula, never evaluated):
# openpyxl's writer serialises each cell through a pure-Python XML tree and took most
# of a year's export (25 s of ~40 on a loaded machine); this takes a tenth of that.
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    "<sheets>{sheets}</sheets></workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    "{sheets}</Relationships>"
)
_SHEET_REL = (
    '<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheetData>"
)
# XML 1.0 cannot hold these at all (openpyxl refuses them): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cell(value: Any) -> str:
    value = neutralise(value)
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float):
        return f"<c><v>{value!r}</v></c>"
    text = escape(_NOT_XML.sub("", str(value)))
    if not text:
        return "<c/>"  # an empty cell, as a spreadsheet has it
    return f'<c t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def write_xlsx(path: Path, sheets: list[Sheet]) -> None:
    """One worksheet per table: the header row, then the rows."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as book:
        n = range(1, len(sheets) + 1)
        book.writestr(
            "[Content_Types].xml",
            _CONTENT_TYPES.format(sheets="".join(_SHEET_TYPE.format(n=i) for i in n)),
        )
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr(
            "xl/workbook.xml",
            _WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{escape(name[:31], {chr(34): "&quot;"})}" sheetId="{i}" '
                    f'r:id="rId{i}"/>'
                    for i, (name, _h, _r) in zip(n, sheets, strict=True)
                )
            ),
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            _WORKBOOK_RELS.format(sheets="".join(_SHEET_REL.format(n=i) for i in n)),
        )
        for i, (_name, header, rows) in zip(n, sheets, strict=True):
            with book.open(f"xl/worksheets/sheet{i}.xml", "w") as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                out.write(_SHEET_HEAD)
                for row in [header, *rows]:
                    out.write("<row>" + "".join(_cell(v) for v in row) + "</row>")
                out.write("</sheetData></worksheet>")
                out.flush()
                out.detach()


def _latin(value: Any) -> str:
    # The core fonts are Latin-1: a name outside it is kept readable, not dropped.
    return str("" if value is None else value).encode("latin-1", "replace").decode("latin-1")


LINE_MM = 4.0  # one 7 pt text line


def _width_of(pdf: FPDF) -> Callable[[str], float]:
    """The current font's string width, cached per character: fpdf2's own measure
    walks the string per call, and multi_cell measures again per character it adds,
    which made a year's PDF take minutes. The core fonts have no kerning, so a
    string's width is the sum of its characters'."""
    cache: dict[str, float] = {}

    def width(text: str) -> float:
        total = 0.0
        for ch in text:
            w = cache.get(ch)
            if w is None:
                w = cache[ch] = pdf.get_string_width(ch)
            total += w
        return total

    return width


def _wrapped(text: str, room: float, width: Callable[[str], float]) -> list[str]:
    """`text` in lines no wider than `room`, broken at spaces (a word wider than the
    line is cut)."""
    if width(text) <= room:
        return [text]
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if width(candidate) <= room:
            line = candidate
            continue
        if line:
            lines.append(line)
        while width(word) > room:  # a word longer than a line: cut it
            cut = len(word)
            while cut > 1 and width(word[:cut]) > room:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return lines


def write_pdf(path: Path, title: str, head: str, sheets: list[Sheet]) -> None:
    """Each table as lines of `cell | cell | ...` (pdftotext reads them back as such),
    placed line by line with page breaks done here: no per-character layout."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(10, 10, 10)
    room = pdf.w - pdf.l_margin - pdf.r_margin
    bottom = pdf.h - 10
    pdf.add_page()
    y = pdf.t_margin

    def line(text: str, height: float, width: Callable[[str], float]) -> None:
        nonlocal y
        for part in _wrapped(text, room, width):
            if y + height > bottom:
                pdf.add_page()
                y = pdf.t_margin
            y += height
            pdf.text(pdf.l_margin, y - height * 0.25, part)

    pdf.set_font("Helvetica", size=12)
    line(_latin(title), 8, _width_of(pdf))
    pdf.set_font("Helvetica", size=7)
    small = _width_of(pdf)
    line(_latin(f"Chain head at export: {head}"), 5, small)
    for name, header, rows in sheets:
        pdf.set_font("Helvetica", size=10)
        line(_latin(name), 8, _width_of(pdf))
        pdf.set_font("Helvetica", size=7)
        for row in [header, *rows]:
            line(_latin(" | ".join(str(c) for c in row)), LINE_MM, small)
    pdf.output(str(path))


def write_documents(directory: Path, title: str, head: str, sheets: list[Sheet]) -> None:
    """register.xlsx and register.pdf of the export's tables."""
    write_xlsx(directory / "register.xlsx", sheets)
    write_pdf(directory / "register.pdf", title, head, sheets)
