"""`[register]`'s working-time rules (issue 22; docs/REGISTER.md says where each comes
from): the full-time week, the minimum breaks, the limits the reports flag.

Kept apart from the other sections' parsers so that it stays one job: read these keys
of the [register] table, check each, and give one immutable value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gateway.config.fields import Section


@dataclass(frozen=True)
class BreakRule:
    """A day with more than `after_minutes` of work needs `minutes` of pause (ET 34.4:
    more than 6 h of continuous work, 15 minutes)."""

    after_minutes: int
    minutes: int


@dataclass(frozen=True)
class WorkTimeRules:
    # The full-time week, in minutes: a full-time regime's default, and the scale of a
    # part-time percentage (40 h: ET art. 34.1).
    full_week_minutes: int = 40 * 60
    # Ordinary work in one day above this is flagged (ET 34.3: 9 h unless agreed).
    max_ordinary_day_minutes: int = 9 * 60
    # Between the end of one working day and the start of the next (ET 34.3: 12 h).
    min_daily_rest_minutes: int = 12 * 60
    # Weekly rest: an uninterrupted rest of this much (ET 37.1: a day and a half) per
    # week, which may be averaged over `weekly_rest_period_days` (ET 37.1: up to 14).
    weekly_rest_minutes: int = 36 * 60
    weekly_rest_period_days: int = 14
    # The EU's 48 h average week (Directive 2003/88/EC art. 6 and 16(b)) over a
    # reference period of this many weeks (4 months: 17 weeks).
    max_average_week_minutes: int = 48 * 60
    average_reference_weeks: int = 17
    # Two sessions of one person further apart than this are two working days, unless
    # they start on the same date (a split shift): what lets a night shift's pause
    # after midnight stay a pause of the day it began.
    max_pause_minutes: int = 4 * 60
    breaks: tuple[BreakRule, ...] = (BreakRule(6 * 60, 15),)


def _hours(sec: Section, name: str, default_minutes: int, lowest: float, highest: float) -> int:
    def check(value: Any) -> str | None:
        if math.isfinite(value) and lowest <= value <= highest:
            return None
        return f"must be from {lowest:g} to {highest:g} hours, got {value}"

    value = sec.get(name, (int, float), None, check=check)
    return default_minutes if value is None else round(value * 60)


def _breaks(sec: Section) -> tuple[BreakRule, ...]:
    default = WorkTimeRules().breaks
    value = sec.get("breaks", list, None)
    if value is None:
        return default
    rules: list[BreakRule] = []
    for n, item in enumerate(value, 1):
        where = f"breaks[{n}]"
        if not isinstance(item, dict) or set(item) != {"after_hours", "minutes"}:
            sec.fail(where, "must be a table { after_hours = 6, minutes = 15 }")
            continue
        after, minutes = item["after_hours"], item["minutes"]
        if (
            isinstance(after, bool)
            or not isinstance(after, int | float)
            or not math.isfinite(after)
            or not 0 < after <= 24
        ):
            sec.fail(where, f"after_hours must be more than 0 and at most 24, got {after!r}")
            continue
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 240:
            sec.fail(where, f"minutes must be a whole number from 1 to 240, got {minutes!r}")
            continue
        rules.append(BreakRule(round(after * 60), minutes))
    return tuple(sorted(rules, key=lambda r: r.after_minutes))


def parse_worktime(sec: Section) -> WorkTimeRules:
    """The working-time keys of [register] (every problem recorded in sec)."""
    d = WorkTimeRules()
    weeks = sec.get(
        "average_reference_weeks",
        int,
        d.average_reference_weeks,
        check=lambda v: None if 1 <= v <= 52 else f"must be from 1 to 52 weeks, got {v}",
    )
    days = sec.get(
        "weekly_rest_period_days",
        int,
        d.weekly_rest_period_days,
        check=lambda v: None if v in (7, 14) else f"must be 7 or 14 (ET 37.1), got {v}",
    )
    return WorkTimeRules(
        full_week_minutes=_hours(sec, "full_week_hours", d.full_week_minutes, 1, 60),
        max_ordinary_day_minutes=_hours(
            sec, "max_ordinary_day_hours", d.max_ordinary_day_minutes, 1, 24
        ),
        min_daily_rest_minutes=_hours(sec, "min_daily_rest_hours", d.min_daily_rest_minutes, 0, 24),
        weekly_rest_minutes=_hours(sec, "weekly_rest_hours", d.weekly_rest_minutes, 0, 72),
        weekly_rest_period_days=days,
        max_average_week_minutes=_hours(
            sec, "max_average_week_hours", d.max_average_week_minutes, 1, 168
        ),
        average_reference_weeks=weeks,
        max_pause_minutes=_hours(sec, "max_pause_hours", d.max_pause_minutes, 0, 12),
        breaks=_breaks(sec),
    )
