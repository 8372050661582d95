"""Properties of the day rules over arbitrary swipe sequences (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.reports.rules import Rules
from gateway.reports.sessions import ReportBuilder
from tests.reports.helpers import clock, stored

# Around the October DST change in Madrid, so that some sequences cross it.
ORIGIN = datetime(2026, 10, 22, tzinfo=UTC)
ZONES = [ZoneInfo("Europe/Madrid"), ZoneInfo("UTC"), ZoneInfo("America/New_York")]

swipes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6 * 24 * 60),  # minutes after ORIGIN
        st.sampled_from(["in", "out"]),
        st.booleans(),  # a suppressed duplicate?
    ),
    max_size=40,
)


def totals(events: list[tuple[int, str, bool]], zone: ZoneInfo) -> tuple[timedelta, int, int]:
    builder = ReportBuilder(Rules(zone=zone), date(2026, 10, 20), date(2026, 10, 30))
    for minute, direction, dup in sorted(events, key=lambda e: e[0]):
        at = ORIGIN + timedelta(minutes=minute)
        builder.add(stored(clock("ana", direction, at, duplicate=dup)))
    days = list(builder.days(ORIGIN + timedelta(days=30)))
    worked = sum((d.worked for d in days), timedelta())
    accounted = sum(2 * d.sessions + d.missing_out + d.out_without_in for d in days)
    return worked, accounted, sum(d.duplicates for d in days)


@settings(max_examples=150, deadline=None)
@given(swipes)
def test_every_event_is_accounted_for_exactly_once(events: list[tuple[int, str, bool]]) -> None:
    recorded = sum(1 for _, _, dup in events if not dup)
    duplicates = len(events) - recorded
    for zone in ZONES:
        _worked, accounted, dups = totals(events, zone)
        assert accounted == recorded
        assert dups == duplicates


@settings(max_examples=150, deadline=None)
@given(swipes)
def test_the_time_zone_moves_hours_between_days_but_never_changes_the_total(
    events: list[tuple[int, str, bool]],
) -> None:
    results = {totals(events, zone)[0] for zone in ZONES}
    assert len(results) == 1
    (worked,) = results
    assert timedelta(0) <= worked <= timedelta(days=6)
