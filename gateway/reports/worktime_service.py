"""Working time fed from the database (gateway/reports/worktime.py is the pure part).

The sessions are read from far enough back for the weekly classes, the weekly rest
and the 48-hour average of the first week to be judged (worktime.history_start), with
the corrections applied exactly as the day report applies them (build_report).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from gateway.config.worktime import WorkTimeRules
from gateway.errors import InvalidInputError
from gateway.reports.rules import Rules
from gateway.reports.service import EventSource, build_report
from gateway.reports.sessions import DayReport, Report
from gateway.reports.worktime import PersonWorkTime, history_start, person_worktime
from gateway.store.regimes import Regime
from gateway.store.stores import Stores


@dataclass(frozen=True)
class WorkTimeReport:
    first_day: date
    last_day: date
    rules: Rules
    worktime: WorkTimeRules
    generated_at: datetime
    names: dict[str, str]
    people: dict[str, PersonWorkTime]  # by uid, sorted
    regimes: dict[str, list[Regime]]


async def build_worktime(
    stores: Stores,
    rules: Rules,
    worktime: WorkTimeRules,
    first_day: date,
    last_day: date,
    *,
    uid: str | None = None,
    now: datetime | None = None,
    gateway: str | None = None,
    source: EventSource | None = None,
    history: Report | None = None,
) -> WorkTimeReport:
    """Per person: working days, weeks and months over [first_day, last_day].

    `history`: the day report from history_start(first_day) to last_day, when the
    caller has built it already (the export needs it for its own day table too: one
    read of a year instead of two)."""
    if last_day < first_day:
        raise InvalidInputError(f"--to {last_day} is before --from {first_day}")
    now = now or datetime.now(UTC)
    since = history_start(first_day, worktime)
    if history is not None and (history.first_day, history.last_day) == (since, last_day):
        report = history
    else:
        report = await build_report(
            stores, rules, since, last_day, uid=uid, now=now, gateway=gateway, source=source
        )
    wanted = None if uid is None else [uid]
    regimes = await stores.regimes.for_people(wanted)
    choices = await stores.regimes.choices(wanted)
    by_person: dict[str, list[DayReport]] = {}
    for day in report.days:
        by_person.setdefault(day.person_uid, []).append(day)
    people = {
        person: person_worktime(
            person,
            days,
            regimes.get(person, []),
            choices.get(person, []),
            worktime,
            rules.zone,
            first_day,
            last_day,
            now,
        )
        for person, days in sorted(by_person.items())
    }
    people = {p: w for p, w in people.items() if w.days}
    return WorkTimeReport(first_day, last_day, rules, worktime, now, report.names, people, regimes)
