"""The register export's xlsx and PDF.

Both faces (the CLI's `register export` and the web's /register/export) hand
`write_documents` to gateway.reports.export, which never imports a spreadsheet
library itself (tests/test_architecture.py). fpdf2 writes the PDF (pure Python, small,
no system libraries); openpyxl the xlsx. Plain tables in, files out: nothing here
reads the database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpdf import FPDF
from openpyxl import Workbook

from gateway.csvout import neutralise

# (name, header, rows) of one table: gateway.reports.export.Sheet, the same shape.
Sheet = tuple[str, list[str], list[list[Any]]]


def write_xlsx(path: Path, sheets: list[Sheet]) -> None:
    book = Workbook(write_only=True)
    for name, header, rows in sheets:
        sheet = book.create_sheet(name)
        sheet.append(header)
        for row in rows:
            sheet.append([neutralise(cell) for cell in row])
    book.save(path)


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
