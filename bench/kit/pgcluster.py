"""A throwaway PostgreSQL cluster for tests and benchmarks.

It never touches a server that happens to run on the machine: `initdb` creates a
fresh cluster in a temporary directory, `pg_ctl` starts it on a free loopback port
with its socket in that directory, and `stop()` removes everything. `initdb` refuses
to run as root, so as root the cluster runs as the `postgres` system user via
`runuser`. The superuser has a password (TCP uses scram-sha-256) so that tests can
also try a wrong one.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
PASSWORD = "test-secret"


def find_pg_bin(tool: str) -> str:
    """The PostgreSQL server tool, from PATH or Debian's versioned directory."""
    found = shutil.which(tool)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if candidates:
        return candidates[-1]
    raise FileNotFoundError(
        f"{tool} not found: install PostgreSQL's server (Debian: apt-get install postgresql)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, *, durable: bool = False, settings: Mapping[str, str] | None = None) -> None:
        # durable=False turns fsync off: fine for functional tests, whose data is
        # thrown away; benchmarks use durable=True to measure real commits.
        # `settings`: server settings (-c) over ours, e.g. synchronous_commit=on.
        self.durable = durable
        self.settings = dict(settings or {})
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="clock-gateway-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.running = False
        if self.as_root:
            os.chmod(self.base, 0o755)
            shutil.chown(self.base, SUPERUSER)

    # -- processes -----------------------------------------------------------------
    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = list(cmd)
        if self.as_root:
            argv = ["runuser", "-u", SUPERUSER, "--", *argv]
        return subprocess.run(argv, check=check, capture_output=True, text=True, cwd=self.base)

    def init(self) -> None:
        pwfile = self.base / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(pwfile, SUPERUSER)
        self._run(
            find_pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c shared_buffers=64MB"
        )
        settings: dict[str, str] = {}
        if not self.durable:
            settings = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        for key, value in (settings | self.settings).items():
            opts += f" -c {key}={value}"
        result = self._run(
            find_pg_bin("pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            opts,
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log[-2000:]}")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run(
                find_pg_bin("pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data), check=False
            )
            self.running = False

    def promote(self, timeout: float = 60.0) -> None:
        """A standby becomes a primary (`pg_ctl promote`, waiting until it is one)."""
        result = self._run(
            find_pg_bin("pg_ctl"),
            "promote",
            "-w",
            "-t",
            str(int(timeout)),
            "-D",
            str(self.data),
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl promote failed: {result.stderr.strip()}")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    # -- databases -----------------------------------------------------------------
    def url(
        self, dbname: str = "postgres", *, password: str = PASSWORD, driver: str = "postgresql"
    ) -> str:
        return f"{driver}://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def standby_of(primary: PgCluster, *, settings: Mapping[str, str] | None = None) -> PgCluster:
    """A streaming standby of a running `primary`, started: `pg_basebackup -R` over
    the primary's socket (local connections are trusted), so the standby streams
    from it as the superuser. Its own port and directory; `promote()` makes it a
    primary. The primary's settings given on its command line are not copied."""
    standby = PgCluster(durable=primary.durable, settings=settings)
    try:
        standby._run(
            find_pg_bin("pg_basebackup"),
            "-D",
            str(standby.data),
            "-h",
            str(primary.base),
            "-p",
            str(primary.port),
            "-U",
            SUPERUSER,
            "-R",  # standby.signal and primary_conninfo
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        standby.start()
        standby.wait_ready()
    except BaseException:
        standby.destroy()
        raise
    return standby


def start_cluster(*, durable: bool = False, settings: Mapping[str, str] | None = None) -> PgCluster:
    cluster = PgCluster(durable=durable, settings=settings)
    try:
        cluster.init()
        cluster.start()
        cluster.wait_ready()
    except BaseException:
        cluster.destroy()
        raise
    return cluster
