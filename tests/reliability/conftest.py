"""Reliability test fixtures: small real filesystems, and a cluster of our own."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.kit.pgcluster import PgCluster, start_cluster

_db_counter = itertools.count(1)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs (root only): fills up for real, and can be made read-only."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="session")
def own_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL cluster of our own, because these tests stop and start it."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


def _ensure_running(cluster: PgCluster) -> None:
    if not cluster.running:
        cluster.start()
        cluster.wait_ready()


@pytest.fixture
def own_pg_url(own_cluster: PgCluster) -> Iterator[str]:
    """A fresh database in our own cluster, which is running again after the test."""
    _ensure_running(own_cluster)
    yield own_cluster.create_database(f"rel_{next(_db_counter)}")
    _ensure_running(own_cluster)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if ("own_pg_url" in names or "pg_url" in names) and "db_url" not in names:
            item.add_marker(pytest.mark.postgres)
