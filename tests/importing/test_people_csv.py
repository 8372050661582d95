"""Reading `users import` files: spreadsheets' habits in, every problem out."""

from __future__ import annotations

import pytest

from gateway.importing.people_csv import parse_people_csv
from gateway.store.models import PersonImport


@pytest.mark.parametrize(
    "text",
    [
        "ana,Ana García,04a1b2c3\nbob,Bob\n",  # no header
        "uid,name,card_key\nana,Ana García,04A1B2C3\nbob,Bob,\n",
        "UID;Name;Card\r\nana;Ana García;04:a1:b2:c3\r\nbob;Bob;\r\n",  # Excel, Spanish locale
        "\ufeffname,uid,key\nAna García,ana,04A1B2C3\nBob,bob\n",  # BOM, other column order
        "\n  ana , Ana   García ,04A1B2C3,,\n\nbob,Bob,,\n",  # blank lines, padding
    ],
)
def test_the_same_people_however_the_file_is_written(text: str) -> None:
    rows, problems = parse_people_csv(text)
    assert problems == []
    assert [(r.uid, r.name, r.card_key) for r in rows] == [
        ("ana", "Ana García", "04A1B2C3"),
        ("bob", "Bob", None),
    ]


def test_lines_are_the_file_s_own_line_numbers() -> None:
    rows, _ = parse_people_csv("uid,name\n\nana,Ana\n\n\nbob,Bob\n")
    assert rows == [PersonImport(3, "ana", "Ana"), PersonImport(6, "bob", "Bob")]


def test_every_problem_is_reported_with_its_line() -> None:
    text = (
        "ana,Ana,04A1B2C3\n"
        "bob\n"
        ",Nameless\n"
        "carol,Carol,123\n"
        "ana,Ana Again\n"
        "dan,Dan,04a1b2c3\n"
        "eve,Eve,CAFEBABE,extra\n"
        "fay,\n"
    )
    rows, problems = parse_people_csv(text)
    assert [r.uid for r in rows] == ["ana"]
    assert problems == [
        "line 2: expected uid,name[,card_key], got 1 column(s)",
        "line 3: uid must not be empty",
        "line 4: invalid card key '123': expected 8, 14 or 20 hex digits (a 4, 7 or 10-byte UID)",
        "line 5: uid 'ana' is also on line 1",
        "line 6: card 04A1B2C3 is also on line 1",
        "line 7: expected uid,name[,card_key], got 4 column(s)",
        "line 8: name must not be empty",
    ]


def test_a_header_with_an_unknown_column_is_refused() -> None:
    rows, problems = parse_people_csv("uid,name,email\nana,Ana,ana@example.org\n")
    assert rows == [] and problems == ["line 1: unknown column 'email'"]
