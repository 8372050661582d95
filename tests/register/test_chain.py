"""The seal rules (gateway/store/chain.py), as docs/REGISTER.md tells an Inspector to
recompute them with standard tools: the recipe and the code must agree."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import InvalidInputError
from gateway.store import chain
from gateway.store.seals import KIND_TABLES
from tests.register.support import fill
from tests.store.support import open_stores, sql

EVENT: dict[str, Any] = {
    "id": 7,
    "event_key": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "person_uid": "ana.garcía",
    "card_key": "04A1B2C3",
    "direction": "in",
    "reader": "entrance",
    "reader_hw_id": None,
    "received_at": datetime(2026, 11, 23, 8, 0, 0, 120000, tzinfo=UTC),
    "stored_at": datetime(2026, 11, 23, 9, 0, 1, tzinfo=timezone(timedelta(hours=1))),
    "outcome": "recorded",
    "gateway_id": "gw1",
    "source": "reader",
    "source_id": None,
}


def test_every_column_but_the_id_is_sealed() -> None:
    # A column added to a register table must be sealed (or this test says so).
    for kind, table in KIND_TABLES.items():
        columns = {c.name for c in table.columns} - {"id"}
        assert set(chain.SEALED_COLUMNS[kind]) == columns, kind
    assert tuple(KIND_TABLES) == chain.ROW_KINDS


def test_the_payload_is_canonical_json() -> None:
    body = chain.payload("event", EVENT)
    assert body == (
        '{"card_key":"04A1B2C3","direction":"in",'
        '"event_key":"12345678-1234-5678-1234-567812345678","gateway_id":"gw1",'
        '"outcome":"recorded","person_uid":"ana.garcía","reader":"entrance",'
        '"reader_hw_id":null,"received_at":"2026-11-23T08:00:00.120000Z",'
        '"source":"reader","source_id":null,"stored_at":"2026-11-23T08:00:01.000000Z"}'
    )
    # The same row read back in another zone or with another key order: the same payload.
    west = timezone(timedelta(hours=-5))
    shifted = {**EVENT, "received_at": EVENT["received_at"].astimezone(west)}
    assert chain.payload("event", dict(reversed(list(shifted.items())))) == body
    with pytest.raises(ValueError):
        chain.payload("event", {**EVENT, "received_at": datetime(2026, 1, 1)})


def test_a_seal_is_what_sha256sum_gives_for_the_documented_line() -> None:
    body = chain.payload("event", EVENT)
    sealed_at = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)
    link = chain.next_link(None, "event", 7, body, sealed_at)
    assert (link.seq, link.prev) == (1, "0" * 64)
    # docs/REGISTER.md: printf '%s' "$payload" | sha256sum, then the line below.
    digest = (
        subprocess.run(["sha256sum"], input=body.encode(), capture_output=True, check=True)
        .stdout.split()[0]
        .decode()
    )
    line = f"{'0' * 64}|1|event|7|2026-11-23T08:00:05.000000Z|{digest}"
    expected = (
        subprocess.run(["sha256sum"], input=line.encode(), capture_output=True, check=True)
        .stdout.split()[0]
        .decode()
    )
    assert link.seal == expected
    assert link.holds()
    following = chain.next_link((link.seq, link.seal), "audit", 1, "{}", sealed_at)
    assert (following.seq, following.prev) == (2, link.seal)
    changed = chain.Link(**{**link.__dict__, "payload": body.replace("in", "out", 1)})
    assert not changed.holds()


def test_heads_and_checkpoints_round_trip() -> None:
    seal = hashlib.sha256(b"x").hexdigest()
    assert chain.parse_head(f" 42:{seal}\n") == chain.Head(42, seal)
    assert chain.Head(42, seal).text() == f"42:{seal}"
    for bad in ("42", f"x:{seal}", f"42:{seal[:-1]}", f"42:{seal.upper()}", ""):
        with pytest.raises(InvalidInputError, match="SEQ:SEAL"):
            chain.parse_head(bad)
    mark = chain.Checkpoint("2022-01-01T00:00:00.000000Z", 9, seal, {"event": 3}, 0)
    assert chain.checkpoint_of(mark.payload()) == mark
    assert chain.checkpoint_of('{"before": 1}') is None


def test_differences_name_each_column() -> None:
    body = chain.payload("event", EVENT)
    other = chain.payload("event", {**EVENT, "direction": "out", "reader": "exit"})
    assert chain.differences(body, other) == [
        ("direction", "in", "out"),
        ("reader", "entrance", "exit"),
    ]


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 shell")
async def test_the_shell_recipe_of_the_docs_gives_the_seal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    async with open_stores(url) as stores:
        await fill(stores)
        await stores.seals.seal_pending()
    doc = (Path(__file__).resolve().parents[2] / "docs" / "REGISTER.md").read_text()
    [script] = [b for b in re.findall(r"```sh\n(.*?)```", doc, re.S) if "payload_sha" in b]
    script = script.replace("/var/lib/clock-gateway/clock-gateway.db", str(tmp_path / "g.db"))
    script = script.replace("n=18342", "n=5")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    computed, _dash, stored, following = done.stdout.split()
    assert computed == stored == following
    assert stored == sql(url, "SELECT seal FROM seals WHERE seq = 5")[0][0]
