"""Serial links to the readers: the serial adapter, the sans-IO session, the supervised link."""

from __future__ import annotations

from gateway.link.link import Answer, IncomingSwipe, Link, LinkState, SwipeHandler
from gateway.link.session import GatewaySession, State

__all__ = [
    "Answer",
    "GatewaySession",
    "IncomingSwipe",
    "Link",
    "LinkState",
    "State",
    "SwipeHandler",
]
