"""Each person's working time so far today, in memory, for the exit reader's LCD.

On a clock-out the reader shows the day's net time (`Hoy 7:32`). Asking the database
would add a round trip to every swipe, so the service keeps a tally instead: warmed
once when the daemon starts (one query for today's events, `warm`), then updated from
each swipe the service records (`record`), and cleared of finished days at local
midnight.

It pairs as the reports do (gateway.reports.sessions; the daemon passes the same
`max_session` and `max_pause`): an in and the next out within `max_session` is a
session; a clock-in within `max_pause` of the last clock-out continues that working
day, past midnight too, so a night shift's pause does not restart the count. An out
with no in before it (the in was made at another gateway, or before a restart that
could not warm) gives no figure at all rather than a wrong one.

What it cannot know: corrections made elsewhere (a missed punch added or a tap voided
on the web or the CLI) and taps recorded by other gateways are not in it until the
next start, so the figure on the LCD may differ from the report's. The report is the
register; the LCD is a courtesy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from gateway.domain import Direction, Outcome

_NONE = timedelta()


@dataclass
class _Day:
    day: date  # the working day's local date (the day its first clock-in was made)
    worked: timedelta = _NONE
    open_in: datetime | None = None
    last_out: datetime | None = None  # the end of the last session


class DayTally:
    def __init__(self, zone: tzinfo, *, max_session: timedelta, max_pause: timedelta) -> None:
        self.zone = zone
        self.max_session = max_session
        self.max_pause = max_pause
        self._people: dict[str, _Day] = {}
        self._today: date | None = None

    def __len__(self) -> int:
        return len(self._people)

    def warm(self, events: Iterable[tuple[str, str, str, datetime]]) -> int:
        """Feed (person_uid, direction, outcome, received_at) in time order, as the
        store returns them; duplicates are skipped. How many were counted."""
        counted = 0
        for uid, direction, outcome, at in events:
            if outcome == Outcome.DUPLICATE.value:
                continue
            self.record(uid, Direction(direction), at)
            counted += 1
        return counted

    def record(self, uid: str, direction: Direction, at: datetime) -> timedelta | None:
        """Count a recorded swipe; for a clock-out that closes a session, the working
        day's net time so far (None otherwise)."""
        self._sweep(at)
        person = self._people.get(uid)
        if direction is Direction.IN:
            joined = (
                person is not None
                and person.open_in is None
                and person.last_out is not None
                and _NONE <= at - person.last_out <= self.max_pause
            )
            local = at.astimezone(self.zone).date()
            if person is None or (not joined and person.day != local):
                person = self._people[uid] = _Day(local)
            elif person.open_in is not None:
                person.last_out = None  # a forgotten out: what follows is no pause
            person.open_in = at
            return None
        if person is None or person.open_in is None:
            return None
        started, person.open_in = person.open_in, None
        if not _NONE <= at - started <= self.max_session:
            return None
        person.worked += at - started
        person.last_out = at
        return person.worked

    def _sweep(self, at: datetime) -> None:
        """At the first swipe of a new local day, forget the days that are over: no
        open clock-in, and the last clock-out too long ago to be a pause."""
        today = at.astimezone(self.zone).date()
        if today == self._today:
            return
        self._today = today
        self._people = {
            uid: p
            for uid, p in self._people.items()
            if p.open_in is not None
            or (p.last_out is not None and at - p.last_out <= self.max_pause)
        }


def day_total_text(worked: timedelta) -> str:
    """H:MM, minutes rounded down (the report's own rounding)."""
    minutes = int(worked.total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"
