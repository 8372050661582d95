"""The board's data: who must be here now, present or absent, and who is in anyway.

The same `who` logic as the CLI (gateway.reports), corrections applied; times in the
configured zone. Names go out as JSON and the page sets them as text, never as HTML.
[web] board decides how much leaves the server (`board_view`): full names ("names",
and "login", whose board only signed-in accounts see), initials, or only the counts;
what the mode leaves out is never sent, not merely hidden by the page.

The open boards are served by `LiveBoard`: the same document, from the day kept in
memory (gateway/reports/live_presence.py), with each row's JSON object built once
and reused while its row is unchanged, so a tap costs the rows it changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from gateway.config import BoardMode
from gateway.reports.live_presence import LivePresence
from gateway.reports.presence import PresenceRow, WhoReport
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


async def board_data(stores: Stores, rules: Rules, now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    report = await presence(stores, rules, moment, now=moment)
    return _document(report, lambda r: _row(r, rules.zone))


def _document(report: WhoReport, render: Callable[[PresenceRow], dict[str, Any]]) -> dict[str, Any]:
    return {
        "server_ms": int(report.server_time.timestamp() * 1000),
        "absent": [render(r) for r in report.absent],
        "present": [render(r) for r in report.present],
        "unscheduled": [render(r) for r in report.unscheduled_in],
    }


def initials(name: str) -> str:
    """'Ana García' -> 'A. G.'; particles in lower case ('de la') are left out."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isalpha()]
    capitals = [w for w in words if not w[:1].islower()] or words[:1]
    return " ".join(f"{w[0].upper()}." for w in capitals) or "?"


_LISTS = ("absent", "present", "unscheduled")


def _as_mode(data: dict[str, Any], mode: BoardMode) -> dict[str, Any]:
    """Counts, and the lists emptied in "counts" mode (the names never leave)."""
    data["mode"] = mode
    data["counts"] = {key: len(data[key]) for key in _LISTS}
    if mode == "counts":
        for key in _LISTS:
            data[key] = []
    return data


async def board_view(
    stores: Stores, rules: Rules, mode: BoardMode, now: datetime | None = None
) -> dict[str, Any]:
    """The board's data as this mode may show it."""
    data = await board_data(stores, rules, now)
    if mode == "initials":
        for key in _LISTS:
            for row in data[key]:
                row["name"] = initials(row["name"])
    return _as_mode(data, mode)


class LiveBoard:
    """board_view for the live topic, from a LivePresence: call it for the document."""

    def __init__(self, stores: Stores, rules: Rules, mode: BoardMode) -> None:
        self.presence = LivePresence(stores, rules)
        self._zone = rules.zone
        self._mode = mode
        self._rendered: dict[str, tuple[PresenceRow, dict[str, Any]]] = {}
        self._last: tuple[int, dict[str, Any]] | None = None  # (presence version, document)

    def invalidate(self) -> None:
        self.presence.invalidate()

    async def __call__(self, now: datetime | None = None) -> dict[str, Any]:
        moment = now or datetime.now(UTC)
        report = await self.presence.report(moment, now=moment)
        if self._last is not None and self._last[0] == self.presence.version:
            # No row changed (a commit that was not a tap, the clock's refresh): the
            # same lists, so the hub's comparison is a glance, only the time is new.
            return {**self._last[1], "server_ms": int(report.server_time.timestamp() * 1000)}
        old, self._rendered = self._rendered, {}

        def render(r: PresenceRow) -> dict[str, Any]:
            cached = old.get(r.uid)
            if cached is None or cached[0] is not r:  # the same row object: the same JSON
                data = _row(r, self._zone)
                if self._mode == "initials":
                    data["name"] = initials(data["name"])
                cached = (r, data)
            self._rendered[r.uid] = cached
            return cached[1]

        document = _as_mode(_document(report, render), self._mode)
        self._last = (self.presence.version, document)
        return document
