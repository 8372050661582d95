"""The Recorder's route choice, case by case: a pure function, so a table."""

from __future__ import annotations

import pytest

from gateway.recording.route import Route, choose_route

# running, database_ok, backlog -> route
CASES = [
    # The normal case: straight to the database's group writer.
    (True, True, 0, Route.DATABASE),
    # A backlog: the event queues behind it in the spool (the reader's order holds),
    # however small the backlog and even while the database answers.
    (True, True, 1, Route.SPOOL),
    (True, True, 10_000, Route.SPOOL),
    # The database away: the spool, with or without a backlog.
    (True, False, 0, Route.SPOOL),
    (True, False, 3, Route.SPOOL),
    # Not running (before start, after stop): KO whatever else holds.
    (False, True, 0, Route.KO),
    (False, True, 5, Route.KO),
    (False, False, 0, Route.KO),
    (False, False, 5, Route.KO),
]


@pytest.mark.parametrize(("running", "database_ok", "backlog", "route"), CASES)
def test_the_route_of_a_swipe(running: bool, database_ok: bool, backlog: int, route: Route) -> None:
    assert choose_route(running, database_ok, backlog) is route


def test_every_route_is_reachable() -> None:
    assert {case[-1] for case in CASES} == set(Route)
