"""systemd's notify protocol in a few lines, without a dependency.

A datagram of `KEY=value` lines to the socket named by $NOTIFY_SOCKET (an abstract
socket when it starts with '@'). Outside systemd there is no socket and every call is a
no-op, so the daemon runs the same under a terminal, a test or the service manager.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from gateway.logs import get_logger

log = get_logger("notify")


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        self._socket: socket.socket | None = None
        if self._address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)
        self.watchdog_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, **fields: str) -> bool:
        """Send KEY=value lines (READY="1", STATUS="..."); False if nobody listens."""
        if self._socket is None or self._address is None:
            return False
        text = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            self._socket.sendto(text.encode("utf-8", "replace"), self._address)
        except OSError as exc:  # a full or vanished socket must never stop the daemon
            log.warning("notify_failed", error=str(exc))
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of WatchdogSec, if it is meant for us."""
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None
