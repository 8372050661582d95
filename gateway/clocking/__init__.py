"""The clocking service: a swipe becomes an event and a reply. No ports, no SQL."""

from __future__ import annotations

from gateway.clocking.messages import Messages, fit_lcd, lcd_ascii
from gateway.clocking.service import ClockingService, Reply, ReplyOutcome

__all__ = [
    "ClockingService",
    "Messages",
    "Reply",
    "ReplyOutcome",
    "fit_lcd",
    "lcd_ascii",
]
