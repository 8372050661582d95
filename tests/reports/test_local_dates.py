"""LocalDates (the report's cached instant -> local date) against astimezone itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.reports.sessions import LocalDates

# Zones whose changes fall at or near midnight, by 30 minutes, or skip a whole day
# (Apia, 2011-12-30), beside the usual ones.
ZONES = [
    "Europe/Madrid",
    "UTC",
    "America/New_York",
    "America/Santiago",
    "Asia/Beirut",
    "America/Havana",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/St_Johns",
]
ORIGIN = datetime(2011, 1, 1, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.lists(st.integers(min_value=0, max_value=15 * 366 * 24 * 60), max_size=60),
    st.booleans(),
)
def test_every_instant_gets_the_date_astimezone_gives(
    zone_name: str, minutes: list[int], in_order: bool
) -> None:
    zone = ZoneInfo(zone_name)
    dates = LocalDates(zone)
    steps = sorted(minutes) if in_order else minutes
    for minute in steps:
        # Each instant and its neighbours: the edges of a cached day are asked too.
        for tick in (timedelta(0), timedelta(microseconds=-1), timedelta(seconds=1)):
            moment = ORIGIN + timedelta(minutes=minute) + tick
            assert dates.date_of(moment) == moment.astimezone(zone).date()


def test_each_side_of_the_changes_of_a_year() -> None:
    for name in ZONES:
        zone = ZoneInfo(name)
        dates = LocalDates(zone)
        moment = datetime(2011, 3, 1, tzinfo=UTC)
        while moment < datetime(2012, 4, 1, tzinfo=UTC):
            assert dates.date_of(moment) == moment.astimezone(zone).date(), (name, moment)
            moment += timedelta(
                minutes=19
            )  # not a divisor of an hour: every minute of the hour gets asked
