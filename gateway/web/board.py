"""The board's data: who must be here now, present or absent, and who is in anyway.

The same `who` logic as the CLI (gateway.reports), corrections applied; times in the
configured zone. Names go out as JSON and the page sets them as text, never as HTML.
[web] board decides how much leaves the server (`board_view`): full names ("names",
and "login", whose board only signed-in accounts see), initials, or only the counts;
what the mode leaves out is never sent, not merely hidden by the page.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from gateway.config import BoardMode
from gateway.reports.live_presence import LivePresence
from gateway.reports.presence import PresenceRow
from gateway.reports.rules import Rules
from gateway.reports.service import presence
from gateway.store.stores import Stores


def _hm(moment: datetime | None, zone: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).strftime("%H:%M")


def _row(r: PresenceRow, zone: tzinfo) -> dict[str, Any]:
    return {
        "name": r.name,
        "room": r.room,
        # Present: when they arrived; absent: when they left, if they did today.
        "at": _hm(r.last_event_at, zone),
        "corrected": r.corrected,
    }


async def board_data(
    stores: Stores, rules: Rules, now: datetime | None = None, live: LivePresence | None = None
) -> dict[str, Any]:
    """With `live`, from its copy of the day (the live board's: each tap costs the
    people on the board, not the day's events); else read from the store."""
    moment = now or datetime.now(UTC)
    if live is not None:
        report = await live.report(moment, now=moment)
    else:
        report = await presence(stores, rules, moment, now=moment)
    zone = rules.zone
    return {
        "server_ms": int(report.server_time.timestamp() * 1000),
        "absent": [_row(r, zone) for r in report.absent],
        "present": [_row(r, zone) for r in report.present],
        "unscheduled": [_row(r, zone) for r in report.unscheduled_in],
    }


def initials(name: str) -> str:
    """'Ana García' -> 'A. G.'; particles in lower case ('de la') are left out."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isalpha()]
    capitals = [w for w in words if not w[:1].islower()] or words[:1]
    return " ".join(f"{w[0].upper()}." for w in capitals) or "?"


async def board_view(
    stores: Stores, rules: Rules, mode: BoardMode, live: LivePresence | None = None
) -> dict[str, Any]:
    """The board's data as this mode may show it."""
    data = await board_data(stores, rules, live=live)
    lists = ("absent", "present", "unscheduled")
    data["mode"] = mode
    data["counts"] = {key: len(data[key]) for key in lists}
    if mode == "counts":
        for key in lists:
            data[key] = []
    elif mode == "initials":
        for key in lists:
            for row in data[key]:
                row["name"] = initials(row["name"])
    return data


async def unknown_cards(stores: Stores, zone: tzinfo, *, limit: int = 30) -> dict[str, Any]:
    rows = await stores.people.unknown_swipes(limit=limit)
    today = datetime.now(zone).date()

    def seen(moment: datetime) -> str:
        local = moment.astimezone(zone)
        return local.strftime("%H:%M:%S" if local.date() == today else "%d/%m/%Y %H:%M")

    return {
        "cards": [
            {
                "card": r.card_key,
                "reader": r.last_reader,
                "last_seen": seen(r.last_seen),
                "count": r.count,
            }
            for r in rows
        ]
    }
