"""What the gateway benchmarks share: a durable throwaway PostgreSQL and known cards.

The cluster is started with durable commits (fsync and synchronous_commit on) on
loopback, so that the daemon's figures and the commit floors pay the same price.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.kit.pgcluster import PgCluster, start_cluster
from gateway.store.models import PersonImport
from gateway.store.stores import Stores

DB_NAME = "clock_gateway_bench"


def card_uid(i: int) -> bytes:
    """A distinct 4-byte ISO 14443-A UID for card number i (NXP-style 0x04 prefix)."""
    return b"\x04" + i.to_bytes(3, "big")


@dataclass
class BenchEnv:
    cluster: PgCluster
    url: str
    workdir: Path
    cards: list[bytes] = field(default_factory=list)
    # When set, each daemon is recorded by py-spy into this directory (bench.profile).
    profile_dir: Path | None = None
    # When set, each daemon writes its swipes' hop stamps here (gateway/trace.py).
    trace_dir: Path | None = None
    _runs: int = 0

    def new_workdir(self, name: str) -> Path:
        """A fresh directory for one daemon's config, state (spool) and log."""
        self._runs += 1
        path = self.workdir / f"{self._runs:02d}-{name}"
        path.mkdir(parents=True)
        return path

    async def event_count(self) -> int:
        """How many clock events are durably stored (read back through psycopg)."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            cur = await conn.execute("SELECT count(*) FROM clock_events")
            found = await cur.fetchone()
        return int(found[0]) if found else 0

    async def sessions_opened(self) -> int:
        """Sessions ever opened on the database (pg_stat_database.sessions, PostgreSQL 14+),
        counting the one that asks. A rising count under steady load is connection churn."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            )
            found = await cur.fetchone()
        return int(found[0]) if found and found[0] is not None else 0

    async def stop_database(self) -> None:
        await asyncio.to_thread(self.cluster.stop, "fast")

    async def start_database(self) -> None:
        await asyncio.to_thread(self.cluster.start)
        await asyncio.to_thread(self.cluster.wait_ready)

    def destroy(self) -> None:
        self.cluster.destroy()
        shutil.rmtree(self.workdir, ignore_errors=True)


async def create_env(card_count: int, *, durable: bool = True) -> BenchEnv:
    """Start the cluster, create the schema and enrol `card_count` people with a card each.

    durable=False (fsync off) is for the smoke tests only: their figures mean nothing.
    """
    cluster = await asyncio.to_thread(start_cluster, durable=durable)
    workdir = Path(tempfile.mkdtemp(prefix="clock-gateway-bench-"))
    env = BenchEnv(cluster=cluster, url="", workdir=workdir)
    try:
        env.url = await asyncio.to_thread(cluster.create_database, DB_NAME)
        stores = Stores.open(env.url)
        try:
            await stores.db.init_schema()
            env.cards = [card_uid(i) for i in range(card_count)]
            await stores.people.import_people(
                [
                    PersonImport(
                        line=i + 1,
                        uid=f"bench-{i:05d}",
                        name=f"Person {i:05d}",
                        card_key=uid.hex().upper(),
                    )
                    for i, uid in enumerate(env.cards)
                ]
            )
        finally:
            await stores.close()
    except BaseException:
        env.destroy()
        raise
    return env
