"""Fixtures shared by the whole suite."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.pgcluster import PgCluster, start_cluster

_db_counter = itertools.count(1)


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
