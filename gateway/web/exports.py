"""The month report as a CSV or an xlsx download, safe to open in a spreadsheet.

Formula injection: cells go through gateway.csvout.neutralise, the project's one rule
(a text starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
apostrophe). In the xlsx every text cell is also written as a string cell, which is
never evaluated.

The CSV is UTF-8 with a byte-order mark (without it a Spanish Excel reads UTF-8 as
Windows-1252 and garbles every accent), `;`-separated for the `es` locale (the list
separator of a Spanish Excel, where `,` is the decimal comma) and `,` otherwise.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from gateway.csvout import csv_writer, neutralise
from gateway.reports import render
from gateway.reports.sessions import Report


def rows(report: Report) -> tuple[Sequence[str], list[list[Any]]]:
    return render.CSV_COLUMNS, [
        [neutralise(v) for v in row] for row in render.report_csv_rows(report)
    ]


def report_csv(report: Report, locale: str) -> bytes:
    headers, body = rows(report)
    out = io.StringIO()
    writer = csv_writer(out, delimiter=";" if locale == "es" else ",", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(body)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook

    headers, body = rows(report)
    book = Workbook()
    sheet = book.active
    sheet.title = f"{report.first_day:%Y-%m}"
    sheet.append(list(headers))
    for row in body:
        sheet.append([None if v == "" else v for v in row])
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a string cell: never evaluated as a formula
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
