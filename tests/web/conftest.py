"""Fixtures of the browser tests: the whole system on PostgreSQL (and a lighter one on
SQLite), and headless Chromium driven by Selenium."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.kit.pgcluster import PgCluster
from tests.web.stack import Stack, chromium_paths, new_browser, start_stack

SHOTS_ENV = "CLOCK_GATEWAY_SCREENSHOTS"
_DATABASES = itertools.count()


def pytest_collection_modifyitems(items: list[Any]) -> None:
    if chromium_paths() is None:
        skip = pytest.mark.skip(
            reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)"
        )
        for item in items:
            if item.get_closest_marker("web") is not None:
                item.add_marker(skip)


@pytest.fixture(scope="module")
def pg_stack(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # One database per module using the fixture (tmp_path_factory is the session's:
    # its id alone gave two modules the same name).
    url = pg_cluster.create_database(f"web_{os.getpid()}_{next(_DATABASES)}")
    stack = start_stack(url, tmp_path_factory.mktemp("web"))
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("web-sqlite")
    stack = start_stack(f"sqlite:///{tmp / 'gateway.db'}", tmp)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = new_browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: $CLOCK_GATEWAY_SCREENSHOTS (e.g. docs/screenshots) or a
    temporary directory."""
    target = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target
