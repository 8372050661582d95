"""The export reads the year once from the working-time rules' history start and
narrows that report to its range (gateway/reports/export.narrow). It must hold the
same rows as a report built over the range itself: swipes across the first day's
midnight, night shifts and stray clock-outs included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.reports.export import narrow
from gateway.reports.rules import Rules
from gateway.reports.service import local_midnight
from gateway.reports.sessions import Report, ReportBuilder, month_totals
from tests.reports.helpers import clock, stored

ZONE = ZoneInfo("Europe/Madrid")
FIRST, LAST = date(2026, 3, 2), date(2026, 3, 6)  # the export's range
EARLY = date(2026, 2, 20)  # where the history starts
ORIGIN = local_midnight(FIRST, Rules(zone=ZONE)) - timedelta(days=3)

swipes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=9 * 24 * 60),  # minutes after ORIGIN
        st.sampled_from(["in", "out"]),
        st.sampled_from(["ana", "luis"]),
    ),
    max_size=40,
)


def built(first: date, events: list[tuple[int, str, str]], now: datetime) -> Report:
    """What build_report does: the events from max_session before the first day's
    midnight to max_session after the last day's, into the builder."""
    rules = Rules(zone=ZONE)
    start = local_midnight(first, rules) - rules.max_session
    end = local_midnight(LAST + timedelta(days=1), rules) + rules.max_session
    builder = ReportBuilder(rules, first, LAST)
    for minute, direction, uid in sorted(events):
        at = ORIGIN + timedelta(minutes=minute)
        if start <= at <= end:
            builder.add(stored(clock(uid, direction, at)))
    days = list(builder.days(now))
    return Report(first, LAST, rules, now, {}, days, month_totals(days))


@settings(max_examples=200, deadline=None)
@given(swipes)
def test_a_narrowed_history_is_the_report_of_the_range(events: list[tuple[int, str, str]]) -> None:
    now = datetime(2026, 3, 20, tzinfo=UTC)
    direct = built(FIRST, events, now)
    narrowed = narrow(built(EARLY, events, now), FIRST)
    assert narrowed.days == direct.days
    assert narrowed.months == direct.months
    assert narrowed.first_day == direct.first_day
