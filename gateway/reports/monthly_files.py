"""The monthly summaries as files: one PDF (fpdf2) per worker here, and the xlsx by a
writer handed in, because the derived figures never import a spreadsheet writer
(tests/test_architecture.py; both faces pass gateway/documents/export_files.write_xlsx).
Both faces (`register monthly`, /register/monthly) write through here; it is not in
gateway/documents because it reads a `Summary`, and documents sit below the reports.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF

from gateway.reports.export import Sheet
from gateway.reports.monthly import TITLE, Summary

XlsxWriter = Callable[[Path, list[Sheet]], None]


def _latin(value: Any) -> str:
    # The core fonts are Latin-1 (Spanish fits); anything else stays readable as '?'.
    return str("" if value is None else value).encode("latin-1", "replace").decode("latin-1")


def pdf_bytes(s: Summary) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_page()

    def line(text: str, size: int = 8) -> None:
        pdf.set_font("Helvetica", size=size)
        latin, height = _latin(text), 4 if size < 10 else 7
        # multi_cell's line breaking measures character by character and was 70 % of
        # `register monthly` (cProfile, bench.monthly); nearly every line fits, so
        # measure it once and break only the ones that do not.
        if pdf.get_string_width(latin) < pdf.epw - 2 * pdf.c_margin:
            pdf.cell(0, height, latin, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.multi_cell(0, height, latin, new_x="LMARGIN", new_y="NEXT")

    line(TITLE, 12)
    line(f"Trabajador(a) / Worker: {s.name} ({s.uid})", 10)
    line(f"Mes / Month: {s.month}", 10)
    for regime in s.regime:
        line(f"Régimen / Regime: {regime}")
    line("")
    for row in [s.sheets()[0][1], *s.days]:
        line(" | ".join(str(c) for c in row), 7)
    line("")
    line("Totales del mes / Month totals", 10)
    for label, value in s.totals:
        line(f"{label}: {value}")
    line("")
    line("Correcciones / Corrections", 10)
    if not s.corrections:
        line("ninguna / none")
    for row in s.corrections:
        line(" | ".join(str(c) for c in row), 7)
    if s.flags:
        line("")
        line("Avisos / Flags", 10)
        for flag in s.flags:
            line(flag)
    line("")
    line(f"Emitido / Issued: {s.issued}")
    line(f"Sello del registro al emitir / Register chain head at issue: {s.head}", 7)
    return bytes(pdf.output())


def write_pdf(path: Path, s: Summary) -> None:
    path.write_bytes(pdf_bytes(s))


def write_summaries(directory: Path, summaries: Sequence[Summary], xlsx: XlsxWriter) -> None:
    """`<stem>.pdf` and `<stem>.xlsx` of each summary into `directory`."""
    for s in summaries:
        write_pdf(directory / f"{s.file_stem}.pdf", s)
        xlsx(directory / f"{s.file_stem}.xlsx", s.sheets())


def zip_summaries(directory: Path, summaries: Sequence[Summary], xlsx: XlsxWriter) -> bytes:
    """The same files as one zip (the web's download); `directory` is scratch space."""
    write_summaries(directory, summaries, xlsx)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.iterdir()):
            archive.write(path, arcname=path.name)
    return out.getvalue()
