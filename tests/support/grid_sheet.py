"""Timetable sheets in the original system's grid layout, generated for tests.

`make_sheet(people=300)` builds a deterministic sheet (weekdays over merged blocks in
row 1, two-line slot headers in row 2, one row per person); `write_xlsx` and
`write_xls` save it as the timetabling software would (.xlsx through openpyxl,
legacy BIFF8 .xls through xlwt). `GridSheet.expected` says who is where at each
weekday and slot, for comparing with `who`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

DAYS_ES = ("Lunes", "Martes", "Miércoles", "Jueves", "Viernes")
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
# The original's slots, plus the empty 15:00-16:00 its sheets carry between shifts.
SLOTS = (
    ("8:15", "9:15"),
    ("9:15", "10:15"),
    ("10:15", "11:15"),
    ("11:45", "12:45"),
    ("12:45", "13:45"),
    ("13:45", "14:45"),
    ("15:00", "16:00"),
    ("16:00", "17:00"),
    ("17:00", "18:00"),
    ("18:00", "19:00"),
    ("19:00", "20:00"),
    ("20:10", "21:10"),
    ("21:10", "22:10"),
)
EMPTY_SLOT = 6

SURNAMES = (
    "García", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Fernández", "Ruiz",
    "Díaz", "Muñoz", "Álvarez", "Romero", "Navarro", "Torres", "Domínguez", "Vázquez",
    "Ibáñez", "Castaño", "Peña", "Núñez",
)  # fmt: skip
GIVEN = (
    "Ana", "José", "María", "Jesús", "Lucía", "Ángel", "Inés", "Íñigo", "Begoña",
    "Raúl", "Sofía", "Martín", "Noemí", "Óscar", "Zoë", "Joan",
)  # fmt: skip
SUBJECTS = ("Matemáticas", "Lengua", "Física y Química", "Inglés", "Tecnología", "Historia")
GROUPS = ("1ESOA", "2ESOB", "3ESOC", "1BACH", "2DAM", "1SMR")


def parse_hm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


@dataclass
class GridSheet:
    names: list[str]  # column A, row 3 on
    day_names: tuple[str, ...] = DAYS_ES
    # (person index, weekday 1-5, slot index) -> the cell's lines
    cells: dict[tuple[int, int, int], list[str]] = field(default_factory=dict)

    def rows(self) -> list[list[str]]:
        """The sheet as cell texts (what a reader should see), row 1 first."""
        width = 1 + len(self.day_names) * len(SLOTS)
        header1 = [""] * width
        header2 = [""] * width
        for d, day in enumerate(self.day_names):
            header1[1 + d * len(SLOTS)] = day
            for s, (start, end) in enumerate(SLOTS):
                header2[1 + d * len(SLOTS) + s] = f"{start}\n{end}"
        body = []
        for p, name in enumerate(self.names):
            row = [name] + [""] * (width - 1)
            for (person, weekday, slot), lines in self.cells.items():
                if person == p:
                    row[1 + (weekday - 1) * len(SLOTS) + slot] = "\n".join(lines)
            body.append(row)
        return [header1, header2, *body]

    def expected(self, weekday: int, slot: int) -> dict[str, str]:
        """name -> room of everyone the sheet has at that weekday and slot."""
        return {
            self.names[p]: " - ".join(lines)
            for (p, d, s), lines in self.cells.items()
            if d == weekday and s == slot
        }


def make_sheet(
    people: int = 300, *, seed: int = 15, day_names: tuple[str, ...] = DAYS_ES
) -> GridSheet:
    rng = random.Random(seed)
    names: list[str] = []
    seen: set[str] = set()
    # Two people whose names fold to the same uid: the import must keep them apart.
    for fixed in ("García López, Ana (AGL)", "Garcia Lopez, Ana (AGL2)"):
        names.append(fixed)
        seen.add(fixed)
    while len(names) < people:
        s1, s2, given = rng.choice(SURNAMES), rng.choice(SURNAMES), rng.choice(GIVEN)
        abbr = f"{given[0]}{s1[0]}{s2[0]}{len(names)}"
        name = f"{s1} {s2}, {given} ({abbr})"
        if name not in seen:
            seen.add(name)
            names.append(name)
    sheet = GridSheet(names, day_names)
    for p in range(len(names)):
        evening = rng.random() < 0.3
        slots = [s for s in range(len(SLOTS)) if s != EMPTY_SLOT and (s > EMPTY_SLOT) == evening]
        for weekday in range(1, 6):
            for slot in rng.sample(slots, rng.randint(0, 4)):
                if rng.random() < 0.15:
                    lines = ["GUARDIA", rng.choice(("Biblioteca", "Patio", "Sala de profesores"))]
                else:
                    lines = [rng.choice(SUBJECTS), rng.choice(GROUPS), f"Aula {rng.randint(1, 30)}"]
                sheet.cells[(p, weekday, slot)] = lines
    return sheet


def write_xlsx(sheet: GridSheet, path: Path) -> Path:
    import openpyxl
    from openpyxl.styles import Alignment

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Horario"
    rows = sheet.rows()
    for r, cells in enumerate(rows, start=1):
        for c, text in enumerate(cells, start=1):
            if text:
                cell = ws.cell(row=r, column=c, value=text)
                if "\n" in text:
                    cell.alignment = Alignment(wrap_text=True)
    for d in range(len(sheet.day_names)):
        first = 2 + d * len(SLOTS)
        ws.merge_cells(
            start_row=1, start_column=first, end_row=1, end_column=first + len(SLOTS) - 1
        )
    book.save(path)
    return path


def write_xls(sheet: GridSheet, path: Path) -> Path:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Horario")
    wrap = xlwt.easyxf("align: wrap on")
    rows = sheet.rows()
    for d, day in enumerate(sheet.day_names):
        first = 1 + d * len(SLOTS)
        ws.write_merge(0, 0, first, first + len(SLOTS) - 1, day)
    for r, cells in enumerate(rows[1:], start=1):
        for c, text in enumerate(cells):
            if text:
                ws.write(r, c, text, wrap if "\n" in text else xlwt.Style.default_style)
    book.save(str(path))
    return path
