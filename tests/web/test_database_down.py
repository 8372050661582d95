"""The web pages while PostgreSQL is down (issue 24, item 11): every page answers a
plain 503 that names neither the database's user, host, port nor name, for a visitor
signed out and for a signed-in account alike, and the log has the details."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.kit.pgcluster import PgCluster, start_cluster
from tests.web.client import Client
from tests.web.stack import ADMIN, PASSWORD, Stack, start_stack

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def down_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PgCluster, Stack]]:
    cluster = start_cluster()  # our own: this module stops it
    stack = None
    try:
        url = cluster.create_database("web_down")
        stack = start_stack(url, tmp_path_factory.mktemp("down"), web_only=True)
        yield cluster, stack
    finally:
        if stack is not None:
            stack.close()
        cluster.destroy()


def _secrets(cluster: PgCluster, stack: Stack) -> list[str]:
    # What a stranger must not learn: the role, the port, the database's name.
    return ["postgres", str(cluster.port), "web_down"]


def test_pages_while_the_database_is_down(down_stack: tuple[PgCluster, Stack]) -> None:
    cluster, stack = down_stack
    signed_in = Client(stack.web.url)
    assert signed_in.login(ADMIN, PASSWORD).status == 303
    stranger = Client(stack.web.url)
    assert stranger.get("/login").status == 200
    cluster.stop()
    try:
        answers = {
            "GET /login": stranger.get("/login"),
            "POST /login": stranger.post("/login", {"username": ADMIN, "password": PASSWORD}),
            "GET /": stranger.get("/"),
            "GET /people (signed in)": signed_in.get("/people"),
            "GET /reports (signed in)": signed_in.get("/reports"),
            "GET /audit (signed in)": signed_in.get("/audit"),
        }
    finally:
        cluster.start()
    for what, answer in answers.items():
        assert answer.status in (200, 303, 503), f"{what}: {answer.status}"
        for secret in _secrets(cluster, stack):
            assert secret not in answer.body, f"{what} names {secret!r}"
        assert "Traceback" not in answer.body
    assert answers["POST /login"].status == 503
    assert answers["GET /people (signed in)"].status == 503
    assert any("web_database_unavailable" in line for line in stack.web.log)
