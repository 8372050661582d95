"""The export's PDF writer: long lines wrap at spaces and lose nothing, many rows
break onto new pages, all read back with pdftotext."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gateway.documents.export_files import write_pdf
from tests.register.test_export import pdf_text


def test_long_lines_wrap_and_rows_run_onto_pages(tmp_path: Path) -> None:
    pauses = " ".join(f"2026-03-02 {h:02d}:00-{h:02d}:10" for h in range(6, 22))  # 16 pauses
    rows = [[f"w{n:04d}", "Ana García", "2026-03-02", pauses, f"{n}:00"] for n in range(2000)]
    write_pdf(tmp_path / "register.pdf", "Title", "7:abc", [("days", ["a", "b"], rows)])
    text = " ".join(pdf_text(tmp_path).split())
    for n in (0, 999, 1999):
        assert f"w{n:04d} | Ana García | 2026-03-02 | {pauses} | {n}:00" in text, n
    info = subprocess.run(
        ["pdfinfo", str(tmp_path / "register.pdf")], capture_output=True, text=True, check=True
    ).stdout
    pages = int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])
    assert pages > 50  # 2000 rows of two lines each, ~45 lines a page


def test_a_word_wider_than_the_line_is_cut_not_lost(tmp_path: Path) -> None:
    word = "x" * 400
    write_pdf(tmp_path / "register.pdf", "T", "h", [("days", ["a"], [[word]])])
    assert word in "".join(pdf_text(tmp_path).split())


def test_the_xlsx_opens_in_a_spreadsheet_reader_with_every_cell(tmp_path: Path) -> None:
    """Read back with openpyxl (as LibreOffice or Excel would open it): the sheets by
    name, headers, texts with accents and XML's special characters, numbers as
    numbers, a formula-like text kept as text, a control character dropped."""
    from openpyxl import load_workbook

    from gateway.documents.export_files import write_xlsx

    sheets = [
        ("days", ["uid", "name", "sessions"], [["ana", 'Ana García <&> "x"', 2], ["b", "=1+1", 0]]),
        ("months", ["uid", "worked"], [["ana", "8:00"], ["c\x01d", ""]]),
    ]
    write_xlsx(tmp_path / "register.xlsx", sheets)
    book = load_workbook(tmp_path / "register.xlsx")
    assert book.sheetnames == ["days", "months"]
    days = [[c.value for c in row] for row in book["days"].iter_rows()]
    assert days == [
        ["uid", "name", "sessions"],
        ["ana", 'Ana García <&> "x"', 2],
        ["b", "'=1+1", 0],
    ]
    months = [[c.value for c in row] for row in book["months"].iter_rows()]
    assert months == [["uid", "worked"], ["ana", "8:00"], ["cd", None]]
