"""The export's xlsx, PDF and README: output formats of gateway/reports/export.py.

fpdf2 writes the PDF (pure Python, small, no system libraries); openpyxl the xlsx.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fpdf import FPDF
from openpyxl import Workbook

from gateway.csvout import neutralise

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


def readme_text(first: date, last: date, head: str, manifest: str) -> str:
    return f"""clock-gateway: the working-time register from {first} to {last}

Files: days.csv (per worker per day: start, end, pauses, worked time, flags),
corrections.csv (each correction: who made it, when, why; who agreed is empty until
agreement is recorded), months.csv (monthly totals), register.xlsx and register.pdf
(the same three tables), HEAD.txt (the register's chain head at export time).

1. Check that no file was changed since the export, with standard tools:

       sha256sum -c {manifest}

   Every line must say OK.

2. Check the head against the database: the chain head at export time was

       {head}

   On the employer's system: clock-gateway register verify --head {head}
   By hand, recompute the seals as docs/REGISTER.md ("How an Inspector checks the
   register") shows: each seal is the SHA-256 of prev|seq|kind|row_id|sealed_at|
   SHA-256(payload), and the seal at the head's position must equal the value above.
"""
