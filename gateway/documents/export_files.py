"""The register export's xlsx and PDF.

Both faces (the CLI's `register export` and the web's /register/export) hand
`write_documents` to gateway.reports.export, which never imports a spreadsheet
library itself (tests/test_architecture.py). fpdf2 writes the PDF (pure Python, small,
no system libraries); openpyxl the xlsx. Plain tables in, files out: nothing here
reads the database.
"""

from __future__ import annotations

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


def write_pdf(path: Path, title: str, head: str, sheets: list[Sheet]) -> None:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 8, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=7)
    pdf.cell(0, 5, _latin(f"Chain head at export: {head}"), new_x="LMARGIN", new_y="NEXT")
    for name, header, rows in sheets:
        pdf.set_font("Helvetica", size=10)
        pdf.cell(0, 8, _latin(name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=7)
        for row in [header, *rows]:
            pdf.multi_cell(
                0, 4, _latin(" | ".join(str(c) for c in row)), new_x="LMARGIN", new_y="NEXT"
            )
    pdf.output(str(path))


def write_documents(directory: Path, title: str, head: str, sheets: list[Sheet]) -> None:
    """register.xlsx and register.pdf of the export's tables."""
    write_xlsx(directory / "register.xlsx", sheets)
    write_pdf(directory / "register.pdf", title, head, sheets)
