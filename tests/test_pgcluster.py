"""The throwaway PostgreSQL fixture itself: a real server, and a wrong password is refused."""

from __future__ import annotations

import psycopg
import pytest

from bench.kit.pgcluster import PgCluster


@pytest.mark.postgres
def test_cluster_answers(pg_cluster: PgCluster, pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.postgres
def test_wrong_password_is_refused(pg_cluster: PgCluster) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_cluster.url(password="wrong"), connect_timeout=5)
