"""Issue 24 item 9: a small .xlsx that claims (or reaches) a huge sheet is refused in
one quick line naming the limit, before openpyxl can pad its way to gigabytes.

The files are built by hand, a zip of the few XML parts openpyxl needs, so that each
can say what no spreadsheet program would write: a dimension of A1:XFD1048576, one
cell at XFD1048576, a row of a million empty cells, a million empty styles.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from gateway.errors import ExitCode, InvalidInputError
from gateway.importing import xlsx_bounds
from gateway.importing.spreadsheet import read_sheet

ROOT = Path(__file__).resolve().parents[2]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELATIONS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{_RELATIONS}">'
    '<sheets><sheet name="Horario" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONS}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
UID = '<c r="A1" t="inlineStr"><is><t>uid</t></is></c>'


def xlsx(
    path: Path, rows: str, *, dimension: str | None = None, parts: Mapping[str, str] | None = None
) -> Path:
    """An .xlsx whose first sheet's <sheetData> is `rows`, with `parts` added by name.
    Every member has the same date, so the same call makes the same bytes."""
    claimed = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">{claimed}'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )
    members = {
        "[Content_Types].xml": _TYPES,
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": _WORKBOOK,
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": sheet,
        **(parts or {}),
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 23, 8, 0, 0))
            archive.writestr(info, text, compress_type=zipfile.ZIP_DEFLATED)
    return path


FAR = f'<row r="1">{UID}</row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
_STYLES = f'<?xml version="1.0"?><styleSheet xmlns="{MAIN}"><cellXfs>{{}}</cellXfs></styleSheet>'

# name -> (the sheet's rows, its claimed dimension, extra parts, what the refusal says)
HOSTILE: dict[str, tuple[str, str | None, dict[str, str], str]] = {
    "a cell at XFD1048576": (FAR, None, {}, "reaches row 1048576; at most 65536 rows"),
    "the same, claimed": (FAR, "A1:XFD1048576", {}, "at most 65536 rows"),
    "a row past the limit": (
        f'<row r="1">{UID}</row><row r="65537"><c><v>1</v></c></row>',
        None,
        {},
        "reaches row 65537; at most 65536 rows",
    ),
    "a cell past column IV": (
        f'<row r="1">{UID}<c r="IW1"><v>1</v></c></row>',
        None,
        {},
        "has a cell at IW1; at most 256 columns (A to IV)",
    ),
    "a row of a million empty cells": (
        f'<row r="1">{"<c/>" * 1_000_000}</row>',
        None,
        {},
        "has a cell at column 257; at most 256 columns",
    ),
    "a million elements in short rows": (
        "".join(f'<row r="{r}">{"<c/>" * 200}</row>' for r in range(1, 5002)),
        None,
        {},
        f"its sheets pass {xlsx_bounds.MAX_ELEMENTS} XML elements",
    ),
    "a hundred thousand empty styles": (
        f'<row r="1">{UID}</row>',
        None,
        {"xl/styles.xml": _STYLES.format("<xf/>" * 100_001)},
        "xl/styles.xml and the other parts beside the sheets pass 100000 XML elements",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_sheet_is_refused_in_one_quick_line(tmp_path: Path, case: str) -> None:
    rows, dimension, parts, says = HOSTILE[case]
    path = xlsx(tmp_path / "hostile.xlsx", rows, dimension=dimension, parts=parts)
    assert path.stat().st_size < 60_000  # small files, every one
    started = time.monotonic()
    with pytest.raises(InvalidInputError) as refused:
        read_sheet(path)
    assert time.monotonic() - started < 20  # the scan stops at the limit: well under 1 s here
    message = refused.value.message
    assert says in message and message.startswith(f"{path}: ") and "\n" not in message


def test_a_claimed_dimension_neither_pads_nor_cuts(tmp_path: Path) -> None:
    # The dimension says a whole sheet, or a single cell: the cells that are there count.
    rows = f'<row r="1">{UID}<c r="C1" t="inlineStr"><is><t>end</t></is></c></row>'
    rows += '<row r="3"><c r="B3"><v>7</v></c></row>'
    for dimension in ("A1:XFD1048576", "A1:A1"):
        path = xlsx(tmp_path / "claimed.xlsx", rows, dimension=dimension)
        started = time.monotonic()
        assert read_sheet(path) == [["uid", "", "end"], [], ["", "7"]]
        assert time.monotonic() - started < 20


def test_an_archive_that_unpacks_too_far_is_refused_from_its_directory(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "big.xlsx", f'<row r="1">{UID}</row>')
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/filler.bin", b"\0" * (xlsx_bounds.MAX_UNPACKED + 1))
    with pytest.raises(InvalidInputError, match="unpacks to 65 MB; at most 64 MB are read"):
        read_sheet(path)


@pytest.mark.parametrize(
    "damage",
    [
        b"not a zip at all",
        b"PK\x03\x04 a truncated zip",
    ],
)
def test_a_damaged_file_is_one_line(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(damage)
    with pytest.raises(InvalidInputError, match=r"not a readable \.xlsx file"):
        read_sheet(path)


def test_malformed_xml_and_row_numbers_are_one_line(tmp_path: Path) -> None:
    for rows in ("<row><c>", '<row r="1e400"/>', '<row r="eleven"/>'):
        path = xlsx(tmp_path / "bad.xlsx", rows)
        with pytest.raises(InvalidInputError, match=r"not a readable \.xlsx file"):
            read_sheet(path)


def _limited_memory() -> None:
    # 1.5 GB of address space: the CLI needs a few hundred MB; the padding it used to
    # do needed gigabytes, so before the fix this ended in a MemoryError traceback.
    limit = 1536 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def cli(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "clock.db"}"\n')
    env = {**os.environ, "CLOCK_GATEWAY_CONFIG": str(config)}
    env.pop("CLOCK_GATEWAY_DATABASE_URL", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limited_memory,
    )
    return done, time.monotonic() - started


def test_the_cli_refuses_such_a_file_in_one_line(tmp_path: Path) -> None:
    assert cli(tmp_path, "db", "init")[0].returncode == 0
    far = xlsx(tmp_path / "far.xlsx", FAR, dimension="A1:XFD1048576")
    claimed = xlsx(tmp_path / "claimed.xlsx", f'<row r="1">{UID}</row>', dimension="A1:XFD1048576")
    for path, says in ((far, "at most 65536 rows are read"), (claimed, "no timetable rows")):
        done, took = cli(tmp_path, "timetable", "import", "--dry-run", str(path))
        assert done.returncode == ExitCode.BAD_INPUT, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and str(path) in lines[0], lines[-5:]
        assert took < 60  # a Python start and a short scan; it used to run out of memory
    # `users import` reads CSV only: the same file is one line too.
    done, took = cli(tmp_path, "users", "import", "--dry-run", str(far))
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not UTF-8 text" in lines[0] and took < 60, lines[-5:]
