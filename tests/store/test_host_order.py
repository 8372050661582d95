"""After a failover to the second host of a multi-host URL, with the first host hung
(it accepts TCP and never answers, like a frozen machine), only the first connection
of each path waits libpq's connect timeout on it: the host that gave the last session
is tried first (engine.HostOrder), and a database's paths (pool, swipe writer, its
LISTEN) share what one of them learnt. Real PostgreSQL, a real hung socket."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from bench.kit.pgcluster import PASSWORD, SUPERUSER, PgCluster
from gateway.store.engine import HostOrder
from gateway.store.listen import Listener
from tests.reliability.support import make_event, seeded_stores
from tests.support.wait import wait_until_async

pytestmark = pytest.mark.postgres

TIMEOUT_S = 3  # libpq's connect_timeout here: the wait on the hung host


def test_the_host_that_answered_goes_first() -> None:
    order = HostOrder.of_conninfo("host=a,b,c port=1,2,3 dbname=x")
    assert order.params() == {"host": "a,b,c", "port": "1,2,3"}
    order.answered("b", 2)
    assert order.params() == {"host": "b,a,c", "port": "2,1,3"}
    order.answered("nowhere", 9)  # not one of ours: nothing changes
    assert order.params()["host"] == "b,a,c"
    assert HostOrder.of_conninfo("host=a port=1").params() == {}  # one host: nothing to do
    same_port = HostOrder.of_conninfo("host=a,b port=5432")
    same_port.answered("b", 5432)
    assert same_port.params() == {"host": "b,a", "port": "5432,5432"}


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


async def test_only_the_first_connection_waits_on_a_hung_host(
    pg_cluster: PgCluster, hung_port: int
) -> None:
    name = f"hosts_{time.monotonic_ns()}"
    pg_cluster.create_database(name)
    url = (
        f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{hung_port},"
        f"127.0.0.1:{pg_cluster.port}/{name}?target_session_attrs=read-write"
    )
    started = time.monotonic()
    stores = await seeded_stores(url, connect_timeout=TIMEOUT_S)  # the pool's first session
    try:
        assert time.monotonic() - started >= TIMEOUT_S  # it did wait on the hung host
        await stores.db.engine.dispose()  # every pooled session gone: connect afresh
        started = time.monotonic()
        await stores.db.check()
        assert time.monotonic() - started < TIMEOUT_S - 0.5, "the pool tried the hung host"

        # The swipe path's own connections share what the pool learnt: none waits.
        for n in (1, 2):
            started = time.monotonic()
            assert (await stores.swipes.record_swipes([make_event(n)]))[0] is not None
            took = time.monotonic() - started
            assert took < TIMEOUT_S - 0.5, f"the swipe writer tried the hung host: {took:.2f} s"
            await stores.swipes.close()  # the next one connects afresh

        # The database's own LISTEN shares it too.
        shared = stores.db.listener(["clock_gateway_cards"], lambda _reason: None, name="t")
        assert shared is not None
        started = time.monotonic()
        task = asyncio.create_task(shared.run())
        try:
            await wait_until_async(lambda: shared.listening, 30, "the shared LISTEN")
            assert time.monotonic() - started < TIMEOUT_S - 0.5
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        # A LISTEN elsewhere learns on its own: its first session waits, its
        # reconnection does not.
        listener = Listener(
            stores.db.libpq,
            ["clock_gateway_cards"],
            lambda _reason: None,
            connect_timeout=TIMEOUT_S,
            where="test",
            name="test",
        )
        started = time.monotonic()
        task = asyncio.create_task(listener.run())
        try:
            await wait_until_async(lambda: listener.listening, 30, "the LISTEN")
            assert time.monotonic() - started >= TIMEOUT_S
            async with stores.db.tx() as conn:  # the server ends the LISTEN's session
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE query LIKE 'LISTEN %' AND datname = current_database()"
                    )
                )
            started = time.monotonic()
            await wait_until_async(
                lambda: listener.failures == 1 and listener.listening, 30, "the LISTEN again"
            )
            took = time.monotonic() - started
            assert took < TIMEOUT_S - 0.5, f"the reconnection tried the hung host: {took:.2f} s"
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await stores.close()
