"""The knobs the derived figures depend on, gathered in one immutable value.

Changing a rule and re-running a report gives new figures; the stored events stay
as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.config import ORIGINAL_SHIFTS, Config, PresenceRule

# An in and an out further apart than this are not one session: the in is flagged as a
# missing clock-out and the out as a clock-out without clock-in. It also bounds how far
# before a report's first day events are read to close shifts that cross midnight.
DEFAULT_MAX_SESSION = timedelta(hours=16)

# A clock-in this soon after the previous session's clock-out continues that session's
# working day, even past midnight: a night shift's pause across midnight (out 23:50, in
# 00:20) is a pause of the day the shift began, not the start of a new day. Longer
# gaps start a new day (a rest between days is 12 h by law, ET art. 34.3).
MAX_PAUSE = timedelta(hours=2)

# For `who` at a shift that started yesterday (crosses midnight): how early before the
# shift's start a clock-in still counts as "in for this shift".
EARLY_ARRIVAL = timedelta(hours=2)


@dataclass(frozen=True)
class Rules:
    zone: ZoneInfo
    late_grace: timedelta = timedelta(minutes=5)
    max_session: timedelta = DEFAULT_MAX_SESSION
    max_pause: timedelta = MAX_PAUSE
    excluded_rooms: frozenset[str] = frozenset()
    # `who`: count taps since local midnight ("midnight") or since the start of the
    # current shift ("shift", the original system's rule); see presence.shift_start.
    presence_rule: PresenceRule = "midnight"
    shifts: tuple[tuple[time, time], ...] = ORIGINAL_SHIFTS

    @classmethod
    def from_config(cls, config: Config, *, max_session: timedelta | None = None) -> Rules:
        return cls(
            zone=config.zone,
            late_grace=timedelta(minutes=config.presence.late_grace_min),
            max_session=max_session or DEFAULT_MAX_SESSION,
            excluded_rooms=frozenset(config.presence.excluded_rooms),
            presence_rule=config.presence.rule,
            shifts=config.presence.shifts,
        )


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive value is taken as UTC (how the store keeps them).

    Everything is compared and subtracted in UTC: Python compares two datetimes that
    share a tzinfo by wall clock, which is wrong across a DST change.
    """
    if moment.tzinfo is UTC:
        return moment  # the common case: the store returns UTC
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
