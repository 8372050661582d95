"""The last-known card directory on disk."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.domain import Person
from gateway.durable import directory as directory_module
from gateway.durable.directory import FILE_NAME, CardDirectory


async def test_saved_directory_is_loaded_by_the_next_process(tmp_path: Path) -> None:
    directory = CardDirectory(tmp_path)
    refreshed = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    directory.replace(
        {
            "04A1B2C3": Person("ana", "Ana Núñez"),
            "04112233": Person("bea", "Bea", active=False),  # inactive: not kept
        },
        refreshed,
    )
    await directory.save()
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed
    again = CardDirectory(tmp_path)
    assert await again.load()
    assert again.get("04A1B2C3") == Person("ana", "Ana Núñez")
    assert again.get("04112233") is None and len(again) == 1
    assert again.refreshed_at == refreshed
    assert again.age_s(refreshed + timedelta(seconds=90)) == 90


def test_single_answers_update_memory(tmp_path: Path) -> None:
    directory = CardDirectory(tmp_path)
    assert directory.age_s() is None
    directory.remember("04A1B2C3", Person("ana", "Ana"))
    assert directory.get("04A1B2C3") == Person("ana", "Ana")
    directory.remember("04A1B2C3", None)  # the card was revoked since
    assert directory.get("04A1B2C3") is None


async def test_damaged_file_gives_an_empty_directory_and_a_log_event(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text('{"version": 1, "cards": {"04A1B2C3": {"uid": 7}}}')
    directory = CardDirectory(tmp_path)
    with capture_logs() as logs:
        assert not await directory.load()
    assert len(directory) == 0
    assert [e["event"] for e in logs] == ["directory_file_invalid"]
    (tmp_path / FILE_NAME).write_bytes(b"\xff not json")
    assert not await CardDirectory(tmp_path).load()


async def test_missing_file_is_not_an_error(tmp_path: Path) -> None:
    with capture_logs() as logs:
        assert not await CardDirectory(tmp_path / "nowhere").load()
    assert [e["log_level"] for e in logs] == ["info"]


async def test_file_format_is_plain_json(tmp_path: Path) -> None:
    directory = CardDirectory(tmp_path)
    directory.replace({"04A1B2C3": Person("ana", "Ana")})
    await directory.save()
    doc = json.loads((tmp_path / FILE_NAME).read_text())
    assert doc["version"] == 1
    assert doc["cards"] == {"04A1B2C3": {"uid": "ana", "name": "Ana"}}


async def test_save_writes_the_directory_as_it_was_when_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop goes on changing the directory while the thread writes: the file must
    hold one consistent state, the one of the save() call (its bytes are built on the
    loop), never a dict changed under the thread's feet."""
    writing, release = threading.Event(), threading.Event()
    real_write = directory_module._write

    def slow_write(path: Path, data: bytes) -> None:
        writing.set()
        assert release.wait(10)
        real_write(path, data)

    monkeypatch.setattr(directory_module, "_write", slow_write)
    directory = CardDirectory(tmp_path)
    directory.replace({"04A1B2C3": Person("ana", "Ana")})
    saving = asyncio.ensure_future(directory.save())
    assert await asyncio.to_thread(writing.wait, 10)  # the thread is in the write
    directory.remember("CAFEBABE", Person("bob", "Bob"))  # the loop changes it meanwhile
    release.set()
    await saving
    doc = json.loads((tmp_path / FILE_NAME).read_text())
    assert doc["cards"] == {"04A1B2C3": {"uid": "ana", "name": "Ana"}}
