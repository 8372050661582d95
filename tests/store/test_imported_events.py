"""Imported events in bulk: the text each database gets, and the writes on both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from gateway.errors import InvalidInputError
from gateway.importing.plan import event_key, event_key_hex
from gateway.store import imported_events
from gateway.store.imported_events import EVENT_COLUMNS, ImportedRow, copy_text, sqlite_values
from gateway.store.tables import clock_events
from tests.store.support import count, open_stores, sql

# Unix seconds from 0001-01-01 to 9999-12-31: all a datetime holds.
STAMPS = st.integers(min_value=-62_135_596_800, max_value=253_402_300_799)


def row(n: int, stamp: int = 1_704_096_000, uid: str = "ana") -> ImportedRow:
    return (
        event_key_hex(n),
        uid,
        "00000000",
        "in",
        "original:input",
        None,
        stamp,
        "recorded",
        "import",
        str(n),
    )


@given(STAMPS)
def test_sqlite_gets_what_sqlalchemy_would_bind(stamp: int) -> None:
    # A re-import and every report compare against what SQLAlchemy stored: the text
    # must be the same, byte for byte, or keys and times would not match.
    dialect = sqlite.dialect()
    binders = {
        c: clock_events.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        for c in ("event_key", "received_at")
    }
    [values] = sqlite_values([row(7, stamp)])
    key_bind, at_bind = binders["event_key"], binders["received_at"]
    assert key_bind is not None and at_bind is not None
    assert values[0] == key_bind(event_key(7))
    assert values[6] == at_bind(datetime.fromtimestamp(stamp, UTC))


@given(STAMPS)
def test_copy_text_gives_the_instant_in_utc(stamp: int) -> None:
    line = copy_text([row(7, stamp)]).rstrip("\n").split("\t")
    assert len(line) == len(EVENT_COLUMNS)
    at = datetime.fromtimestamp(stamp, UTC)
    assert line[EVENT_COLUMNS.index("received_at")] == (
        f"{at.year:04d}-{at.month:02d}-{at.day:02d} {at:%H:%M:%S}+00"
    )
    assert line[EVENT_COLUMNS.index("reader_hw_id")] == "\\N"


def test_copy_text_escapes_what_copy_would_misread() -> None:
    line = copy_text([row(1, uid="a\\b\tc")])
    assert line.split("\t")[1] == "a\\\\b\\tc"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_a_batch_goes_in_once_and_whole(
    backend: str, tmp_path: object, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path}/gateway.db"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    async with open_stores(url) as stores:
        sql(url, "INSERT INTO people (uid, name) VALUES ('ana', 'Ana')")
        rows = [row(n, 1_704_096_000 + n) for n in range(1, 1001)]
        assert await stores.imports.record_imported(rows[:400]) == 400
        # The rest and the first 400 again: only the rest is new.
        assert await stores.imports.record_imported(rows) == 600
        assert await stores.imports.record_imported(rows) == 0
        assert await stores.imports.existing_imported(rows) == {r[0] for r in rows}
        # A row the foreign key refuses: its whole batch stays out.
        bad = [row(n) for n in range(2001, 2011)] + [row(2011, uid="ghost")]
        with pytest.raises(InvalidInputError, match="refused by the database"):
            await stores.imports.record_imported(bad)
        assert count(url, "clock_events") == 1000
        [(at,)] = sql(url, "SELECT received_at FROM clock_events WHERE source_id = '5'")
        expected = datetime(2024, 1, 1, 8, 0, 5, tzinfo=UTC)
        assert at == (expected if backend == "postgres" else "2024-01-01 08:00:05.000000")


@pytest.mark.postgres
async def test_a_writer_racing_the_look_up_is_skipped_not_refused(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_stores(pg_url) as stores:
        sql(pg_url, "INSERT INTO people (uid, name) VALUES ('ana', 'Ana')")
        rows = [row(n) for n in range(1, 101)]
        assert await stores.imports.record_imported(rows[:30]) == 30

        async def saw_nothing(cur: object, part: object) -> tuple[set[str], set[str]]:
            # As if the 30 were committed by another import just after our look-up.
            return set(), set()

        monkeypatch.setattr(imported_events, "pg_existing", saw_nothing)
        assert await stores.imports.record_imported(rows) == 70
        assert count(pg_url, "clock_events") == 100
