"""The clocking service's day tally (gateway/clocking/tally.py), warmed at start.

One query for the events since local midnight (and a shift's length before it, so a
night shift that began yesterday evening is paired), made once before the readers
start, never per swipe. Without the database at start (offline start), the tally
begins empty: a clock-out whose clock-in it never saw shows no total, not a wrong one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.clocking.tally import DayTally
from gateway.config import Config
from gateway.errors import GatewayError
from gateway.logs import get_logger
from gateway.reports.rules import DEFAULT_MAX_SESSION, MAX_PAUSE, as_utc
from gateway.store.stores import Stores

log = get_logger("daemon")
WARM_TIMEOUT_S = 10.0


async def warmed_tally(stores: Stores, config: Config, *, offline: bool) -> DayTally:
    # The reports' own pairing limits: the LCD's figure is the report's, as far as
    # this gateway has seen.
    tally = DayTally(config.zone, max_session=DEFAULT_MAX_SESSION, max_pause=MAX_PAUSE)
    if offline:
        log.info("day_tally_cold", reason="database unavailable at start")
        return tally
    now = datetime.now(UTC)
    midnight = datetime.combine(now.astimezone(config.zone).date(), datetime.min.time())
    start = midnight.replace(tzinfo=config.zone).astimezone(UTC) - DEFAULT_MAX_SESSION
    rows: list[tuple[str, str, str, datetime]] = []
    try:
        async with asyncio.timeout(WARM_TIMEOUT_S):
            async for row in stores.events.swipes_between(start, now + timedelta(minutes=1)):
                at = row.received_at
                rows.append((row.person_uid, row.direction, row.outcome, as_utc(at)))
    except (GatewayError, TimeoutError) as exc:
        # Cold rather than late: the readers wait for this.
        log.warning("day_tally_cold", reason=str(exc) or type(exc).__name__)
        return tally
    counted = tally.warm(rows)
    log.info("day_tally_warmed", events=counted, people=len(tally))
    return tally
