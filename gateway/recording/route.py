"""Where a swipe's event goes: the Recorder's one choice, as a pure function.

Three routes, chosen once per swipe from what the Recorder knows at that moment:

- DATABASE: the swipes' group writer looks the card up and stores the event in one
  transaction. Taken when the database answers and the spool is empty. If the
  database then fails or does not answer within the wait, the swipe goes on along
  the spool route (its card from the directory); that is the route's fallback, not a
  second choice.
- SPOOL: the local spool. Taken while the database is away (the card from the
  directory), and whenever the spool still holds events, so that a reader's events
  reach the database in the order they were made (the card is then still checked
  in the database while it answers). A spool that cannot take the event makes the
  swipe KO (StoreUnavailableError), never a false OK.
- KO: nowhere, the recorder is not running.
"""

from __future__ import annotations

from enum import Enum


class Route(Enum):
    DATABASE = "database"
    SPOOL = "spool"
    KO = "ko"


def choose_route(running: bool, database_ok: bool, backlog: int) -> Route:
    """The route of a swipe (see the module docstring).

    running: the Recorder is started; database_ok: the database answered last time
    (DatabaseHealth.ok); backlog: events still in the spool (its depth).
    """
    if not running:
        return Route.KO
    if database_ok and backlog == 0:
        return Route.DATABASE
    return Route.SPOOL
