"""Store test fixtures: the backend under test, and `async def` tests without plugins.

Every contract test runs twice: on a fresh PostgreSQL database in the session's
throwaway cluster, and on a SQLite file in tmp_path.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop, each under a time limit."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), timeout=60))
    return True


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend, as a plain URL a person would write."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def pytest_collection_modifyitems(items: list[Any]) -> None:
    # Tests that ask for pg_url directly need the cluster too.
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()) and "db_url" not in item.fixturenames:
            item.add_marker(pytest.mark.postgres)
