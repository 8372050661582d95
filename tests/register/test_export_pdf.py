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
