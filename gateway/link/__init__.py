"""Serial links to the readers: the serial adapter, the sans-IO machine, the supervised link."""

from __future__ import annotations

from gateway.link.link import Answer, Link, SwipeHandler
from gateway.link.machine import GatewayMachine, LinkState
from gateway.link.ticker import Ticker
from gateway.link.watch import PathWatcher

__all__ = [
    "Answer",
    "GatewayMachine",
    "Link",
    "LinkState",
    "PathWatcher",
    "SwipeHandler",
    "Ticker",
]
