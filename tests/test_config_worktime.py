"""`[register]`'s working-time rules (issue 22): the defaults are Spain's, each key can be
set, and every bad value is named with its key in one error."""

from __future__ import annotations

import pytest

from gateway.config import BreakRule, WorkTimeRules, parse_config
from gateway.errors import ConfigError


def test_the_defaults_are_the_spanish_rules() -> None:
    rules = parse_config({}, "<defaults>").register.worktime
    assert rules == WorkTimeRules()
    assert rules.full_week_minutes == 40 * 60 and rules.max_ordinary_day_minutes == 9 * 60
    assert rules.min_daily_rest_minutes == 12 * 60 and rules.weekly_rest_minutes == 36 * 60
    assert rules.weekly_rest_period_days == 14 and rules.average_reference_weeks == 17
    assert rules.max_average_week_minutes == 48 * 60
    assert rules.breaks == (BreakRule(360, 15),)


def test_every_key_can_be_set() -> None:
    register = {
        "full_week_hours": 37.5,
        "max_ordinary_day_hours": 10,
        "min_daily_rest_hours": 11,
        "weekly_rest_hours": 24,
        "weekly_rest_period_days": 7,
        "max_average_week_hours": 48,
        "average_reference_weeks": 26,
        "max_pause_hours": 3,
        "breaks": [{"after_hours": 9, "minutes": 45}, {"after_hours": 6, "minutes": 30}],
    }
    rules = parse_config({"register": register}, "f").register.worktime
    assert rules == WorkTimeRules(
        full_week_minutes=2250,
        max_ordinary_day_minutes=600,
        min_daily_rest_minutes=660,
        weekly_rest_minutes=1440,
        weekly_rest_period_days=7,
        max_average_week_minutes=2880,
        average_reference_weeks=26,
        max_pause_minutes=180,
        breaks=(BreakRule(360, 30), BreakRule(540, 45)),  # sorted by length of day
    )
    assert parse_config({"register": {"breaks": []}}, "f").register.worktime.breaks == ()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("full_week_hours", 0),
        ("full_week_hours", float("nan")),
        ("full_week_hours", "40"),
        ("max_ordinary_day_hours", 25),
        ("min_daily_rest_hours", -1),
        ("weekly_rest_period_days", 10),
        ("average_reference_weeks", 0),
        ("max_average_week_hours", True),
        ("breaks", [{"after_hours": 6}]),
        ("breaks", [{"after_hours": 0, "minutes": 15}]),
        ("breaks", [{"after_hours": 6, "minutes": 15.5}]),
        ("breaks", "6h:15"),
        ("overtime_hours", 80),
    ],
)
def test_a_bad_value_is_named_by_its_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"register": {key: value}}, "clock.toml")
    assert f"register.{key}" in str(info.value)
