"""The daemon that supervises the reader links (`clock-gateway run`)."""

from __future__ import annotations

from gateway.daemon.daemon import Daemon, config_summary
from gateway.daemon.notify import Notifier

__all__ = ["Daemon", "Notifier", "config_summary"]
