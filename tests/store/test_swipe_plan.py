"""The swipe statement's plan on PostgreSQL: each card by its unique index.

Not a timing (bench/swipe_statement.py measures): the plan's shape. With a plain join
the planner, which guesses 100 rows for json_array_elements, hashed every active card
for each swipe, a cost that grew with the school (0.9 ms a swipe at 2,000 cards).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from gateway.store.swipes_pg import RECORD_SWIPES
from tests.store.support import open_stores

pytestmark = pytest.mark.postgres

CARDS = 2000  # a school's size: enough that a hash of all cards would look cheaper


async def test_each_card_is_found_through_the_active_card_index(pg_url: str) -> None:
    async with open_stores(pg_url):
        pass  # the schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO people (uid, name) SELECT 'p' || i, 'Person ' || i"
            " FROM generate_series(1, %s) AS i",
            (CARDS,),
        )
        conn.execute(
            "INSERT INTO cards (card_key, person_uid)"
            " SELECT '04' || lpad(upper(to_hex(i)), 6, '0'), 'p' || i"
            " FROM generate_series(1, %s) AS i",
            (CARDS,),
        )
        conn.execute("ANALYZE people")
        conn.execute("ANALYZE cards")
        batch = json.dumps(
            [
                [
                    str(uuid.uuid4()),
                    "04000007",
                    "in",
                    "entrance",
                    None,
                    datetime.now(UTC).isoformat(),
                    "recorded",
                    "default",
                ]
            ]
        )
        with conn.transaction(force_rollback=True):  # EXPLAIN ANALYZE runs the insert
            plan = "\n".join(
                str(r[0])
                for r in conn.execute(
                    "EXPLAIN (ANALYZE, COSTS OFF) " + RECORD_SWIPES, (batch,)
                ).fetchall()
            )
    assert "Index Scan using cards_active_card_key on cards" in plan, plan
    assert "Hash" not in plan and "Seq Scan on cards" not in plan, plan
    assert "Tuples Inserted: 1" in plan, plan  # the holder was found and the event stored
