"""Helpers for the reliability tests: events, configurations, seeded databases."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.kit.pgcluster import free_port
from gateway.config import Config, parse_config
from gateway.domain import ClockEvent, Direction
from gateway.store.audit import Actor
from gateway.store.stores import Stores

CARD = "04A1B2C3"
_T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def make_event(
    n: int, reader: str = "entrance", person: str = "ana", card: str = CARD
) -> ClockEvent:
    """The n-th event of a reader: distinct key, increasing time. As a swipe
    (Recorder.record_swipe) its person is ignored: the holder of `card` is looked up."""
    return ClockEvent(
        event_key=uuid.uuid5(uuid.NAMESPACE_OID, f"{reader}/{person}/{n}"),
        person_uid=person,
        card_key=card,
        direction=Direction.IN if reader == "entrance" else Direction.OUT,
        reader=reader,
        reader_hw_id="0102030405060708",
        received_at=_T0 + timedelta(milliseconds=n),
    )


def make_config(state_dir: Path, url: str, **sections: dict[str, Any]) -> Config:
    """A configuration for tests: short waits so that failures show quickly."""
    data: dict[str, Any] = {
        "gateway": {"state_dir": str(state_dir)},
        "database": {"url": url, "wait_s": 0.3, "directory_refresh_s": 60},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return parse_config(data, "<test>")


async def seeded_stores(url: str, connect_timeout: float = 2.0) -> Stores:
    """Stores with the schema and Ana holding card 04A1B2C3."""
    stores = Stores.open(url, connect_timeout=connect_timeout)
    await stores.db.init_schema()
    await stores.lifecycle.add_person("ana", "Ana", Actor.cli())
    await stores.lifecycle.assign_card(CARD, "ana", Actor.cli())
    return stores


async def stored_keys(stores: Stores) -> list[uuid.UUID]:
    """Every stored event key, in store (id) order."""
    keys: list[uuid.UUID] = []
    after = 0
    while batch := await stores.events.events_since(after, 5000):
        keys += [e.event_key for e in batch]
        after = batch[-1].id
    return keys


def closed_port_url() -> str:
    """A PostgreSQL URL where nothing listens: the database is simply away."""
    return f"postgresql://postgres:x@127.0.0.1:{free_port()}/nowhere"


def remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size` mounted at `path` (root only; the test skips otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
