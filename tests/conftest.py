"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from bench.kit.pgcluster import PgCluster, start_cluster

_db_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Tests that run the CLI in-process configure structlog for the whole process;
    reset it after each test so that no test sees another's log level or output."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster for the test session."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database in the throwaway cluster; a plain postgresql:// URL."""
    return pg_cluster.create_database(f"test_{next(_db_counter)}")


# Backends of the repository contract: every parametrised test runs on both.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend, as a plain URL a person would write."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop, each under a time limit.

    A dozen lines instead of a plugin: each test gets its own loop, so no state
    leaks between tests, and a hung test fails instead of stalling the suite.
    """
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    # A test that restarts things many times says so: @pytest.mark.time_limit(seconds).
    marker = pyfuncitem.get_closest_marker("time_limit")
    limit_s = float(marker.args[0]) if marker is not None else ASYNC_TEST_LIMIT_S
    asyncio.run(_within(pyfuncitem.obj(**kwargs), limit_s))
    return True


ASYNC_TEST_LIMIT_S = 90


async def _within(test: Any, limit_s: float) -> None:
    # A TimeoutError of the test's own passes through; only our limit gets this message.
    scope = asyncio.timeout(limit_s)
    try:
        async with scope:
            await test
    except TimeoutError:
        if scope.expired():
            raise AssertionError(f"the test did not finish within {limit_s} s") from None
        raise


def pytest_collection_modifyitems(items: list[Any]) -> None:
    # Tests that need the cluster, directly or through a postgres-backed fixture,
    # carry the marker, so `-m "not postgres"` runs the rest on a machine without it.
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()) and "db_url" not in item.fixturenames:
            item.add_marker(pytest.mark.postgres)
