"""The stack the register's page tests share (tests/web/test_register_pages.py over
HTTP, tests/web/test_register_browser.py in Chromium): the web process alone over a
sealed SQLite register, with an inspector account valid for a month."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.store.stores import Stores
from tests.web.stack import Stack, start_stack

INSPECTOR, PW = "itss", "a good long password"


async def seal_all(url: str) -> None:
    stores = Stores.open(url)
    try:
        while (await stores.seals.seal_pending()).sealed:
            pass  # rounds until nothing is left: each round seals a batch
    finally:
        await stores.close()


def register_stack(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Stack]:
    """For a module fixture to `yield from`: the stack, closed afterwards."""
    tmp = tmp_path_factory.mktemp(name)
    stack = start_stack(
        f"sqlite:///{tmp / 'gateway.db'}",
        tmp,
        history_days=20,
        web_only=True,
        accounts=[(INSPECTOR, PW, "inspector", datetime.now(UTC) + timedelta(days=30))],
    )
    try:
        asyncio.run(seal_all(stack.url))
        yield stack
    finally:
        stack.close()
