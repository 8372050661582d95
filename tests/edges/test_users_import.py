"""Issue 13 items 9 and 12: `users import` reads files right, lists every problem of a
file in one run, and writes in batches that let the daemon's writes in."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.errors import ExitCode
from gateway.importing.people_csv import parse_people_csv


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "clock.db"}"\n')
    monkeypatch.setenv("CLOCK_GATEWAY_CONFIG", str(config))
    monkeypatch.delenv("CLOCK_GATEWAY_DATABASE_URL", raising=False)
    assert main(["db", "init"]) == 0
    return tmp_path


def people(env: Path) -> dict[str, str]:
    with sqlite3.connect(env / "clock.db") as conn:
        return dict(conn.execute("SELECT uid, name FROM people").fetchall())


@pytest.mark.parametrize(
    "header",
    ["id,fullname", "ID;Full name", "user,name,card", "uid,nombre,tarjeta", "id,nombre completo"],
)
def test_header_rows_are_recognised(header: str) -> None:
    sep = ";" if ";" in header else ","
    rows, problems = parse_people_csv(f"{header}\nana{sep}Ana García\n")
    assert problems == []
    assert [(r.uid, r.name) for r in rows] == [("ana", "Ana García")]


def test_unterminated_quote_swallows_nothing() -> None:
    rows, problems = parse_people_csv('uid,name\n"ana,Ana\nbob,Bob\ncarl,"Carl\ndan,Dan\n')
    assert [(r.uid, r.name) for r in rows] == [("bob", "Bob"), ("dan", "Dan")]
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 4"]
    assert all("unterminated quote" in p for p in problems)


def test_every_problem_is_listed_in_one_run(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "ana", "Ana"]) == 0
    assert main(["users", "add", "eva", "Eva"]) == 0
    assert main(["cards", "assign", "04A1B2C3", "ana"]) == 0
    csv_file = env / "people.csv"
    csv_file.write_text(
        "uid,name,card\n"
        "ana,Ana Changed,\n"  # 2: another name for an existing uid
        "bob,Bob,04A1B2C3\n"  # 3: a card held by someone else
        "carl,Carl,nothex\n"  # 4: a malformed card key
        '"dan,Dan\n'  # 5: an unterminated quote
        "eva,Eva,04A1B2C3\n"  # 6: the same card again, and held by ana
        "fay,Fay,04FFEEDD\n"  # 7: fine
    )
    capsys.readouterr()
    assert main(["users", "import", str(csv_file)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    for line in ("line 2", "line 3", "line 4", "line 5", "line 6"):
        assert f"people.csv: {line}:" in err, (line, err)
    assert "line 7" not in err
    assert "04A1B2C3 is held by ana" in err and "'Ana'" in err
    assert people(env) == {"ana": "Ana", "eva": "Eva"}  # nothing imported


def test_import_is_idempotent_and_reports_what_it_did(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = env / "people.csv"
    csv_file.write_text("uid,name,card\nana,Ana,04A1B2C3\nbob,Bob,\n")
    assert main(["users", "import", str(csv_file), "--dry-run"]) == 0
    assert people(env) == {}
    assert main(["users", "import", str(csv_file)]) == 0
    capsys.readouterr()
    assert main(["users", "import", str(csv_file)]) == 0
    out = capsys.readouterr().out
    assert "line 2: ana: unchanged, card unchanged" in out and "line 3: bob: unchanged" in out
    assert people(env) == {"ana": "Ana", "bob": "Bob"}


def test_a_large_import_lets_other_writers_in(env: Path) -> None:
    count = 20_000
    csv_file = env / "people.csv"
    csv_file.write_text(
        "uid,name,card\n" + "".join(f"p{i},Person {i},04{i:06X}\n" for i in range(count))
    )
    waits: list[float] = []
    stop = threading.Event()

    def other_writer() -> None:
        # The daemon's writes, as SQLite sees them: short write transactions.
        conn = sqlite3.connect(env / "clock.db", timeout=60, isolation_level=None)
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO unknown_swipes (card_key, first_seen, last_seen, count, last_reader)"
                " VALUES (?, '2026-01-01', '2026-01-01', 1, 'r') ON CONFLICT DO NOTHING",
                (f"05{n:06X}",),
            )
            conn.execute("COMMIT")
            waits.append(time.monotonic() - started)
            n += 1
            time.sleep(0.05)
        conn.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    started = time.monotonic()
    try:
        code = main(["users", "import", str(csv_file)])
    finally:
        stop.set()
        writer.join(timeout=60)
    took = time.monotonic() - started
    assert code == 0
    assert len(people(env)) == count
    assert len(waits) >= 5
    assert max(waits) < 2.0, f"a writer waited {max(waits):.1f} s during a {took:.1f} s import"
    assert took < 120
    asyncio.set_event_loop(None)
