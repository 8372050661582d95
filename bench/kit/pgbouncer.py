"""A throwaway PgBouncer in front of a throwaway cluster (bench/kit/pgcluster.py).

Its own ini, user list and socket in a temporary directory, a free loopback port,
run in the foreground as a child process (as the `postgres` user when we are root:
PgBouncer refuses to run as root). Clients log in with the cluster's superuser and
password (SCRAM, checked against the plain password in the user list); PgBouncer
reaches the server over the cluster's Unix socket, where local connections are
trusted. `stop()` ends it and removes the directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.kit.pgcluster import PASSWORD, SUPERUSER, PgCluster, free_port


def find_pgbouncer() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None
    )
    if found is None:
        raise FileNotFoundError("pgbouncer not found (Debian: apt-get install pgbouncer)")
    return found


class PgBouncer:
    def __init__(
        self, cluster: PgCluster, *, pool_mode: str = "transaction", pool_size: int = 4
    ) -> None:
        self.cluster = cluster
        self.pool_mode = pool_mode
        self.base = Path(tempfile.mkdtemp(prefix="clock-gateway-bouncer-"))
        self.port = free_port()
        self.log = self.base / "pgbouncer.log"
        self.proc: subprocess.Popen[bytes] | None = None
        ini = self.base / "pgbouncer.ini"
        users = self.base / "userlist.txt"
        users.write_text(f'"{SUPERUSER}" "{PASSWORD}"\n')
        ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    # Every database name, to the cluster's socket (trusted there).
                    f"* = host={cluster.base} port={cluster.port}",
                    "",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    f"unix_socket_dir = {self.base}",
                    "auth_type = scram-sha-256",
                    f"auth_file = {users}",
                    f"pool_mode = {pool_mode}",
                    f"default_pool_size = {pool_size}",
                    "max_client_conn = 500",
                    f"logfile = {self.log}",
                    # The drivers' startup parameters PgBouncer should let through.
                    "ignore_startup_parameters = extra_float_digits",
                    "",
                ]
            )
        )
        self.ini = ini
        if os.geteuid() == 0:
            for path in (self.base, ini, users):
                shutil.chown(path, SUPERUSER)
            os.chmod(users, 0o600)

    def start(self, timeout: float = 30.0) -> PgBouncer:
        # As root, the process itself runs as postgres (not under runuser, which would
        # stand between our signals and PgBouncer).
        as_postgres: dict[str, Any] = (
            {"user": SUPERUSER, "group": SUPERUSER} if os.geteuid() == 0 else {}
        )
        self.proc = subprocess.Popen(
            [find_pgbouncer(), str(self.ini)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **as_postgres,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.log.read_text() if self.log.exists() else ""
                    self.halt()
                    raise RuntimeError(f"pgbouncer did not start:\n{log[-2000:]}") from None
                time.sleep(0.05)

    def url(self, dbname: str, *, driver: str = "postgresql") -> str:
        return f"{driver}://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def halt(self) -> None:
        """End the process (every client connection cut); `start()` again later."""
        if self.proc is not None and self.proc.poll() is None:
            # SIGTERM: PgBouncer's immediate shutdown (SIGINT would wait for clients).
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.base, ignore_errors=True)
