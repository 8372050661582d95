"""A gateway as part of a fleet, with the real daemon as a subprocess and emulated readers:

- its /metrics numbers move with real swipes, /healthz answers, and every event and
  unknown swipe carries its gateway id;
- it publishes its heartbeat, and `status --all` shows it next to a silent gateway;
- a card revoked at "the office" (the CLI, elsewhere) is refused by this gateway
  within seconds even offline: PostgreSQL's NOTIFY refreshes its card directory.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.kit.harness import DaemonProcess, run_cli, seed, write_config
from bench.kit.pgcluster import PgCluster, free_port
from gateway.emulator import VirtualReader
from gateway.protocol import Status
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ANA = bytes.fromhex("04A1B2C3")
BEA = bytes.fromhex("04112233445566")
STRANGER = bytes.fromhex("04DEADBEEF0001")
PEOPLE = [("ana", "Ana", "04A1B2C3"), ("bea", "Bea", "04112233445566")]


async def until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def scrape(base: str, path: str = "/metrics") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def one(v: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return v.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_move_with_real_swipes_and_the_fleet_sees_the_gateway(
    pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(seed, pg_url, PEOPLE)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    readers = {
        "entrance": VirtualReader("in", name="m-entrance", link_path=tmp_path / "entrance"),
        "exit": VirtualReader("out", name="m-exit", link_path=tmp_path / "exit"),
    }
    config = write_config(
        tmp_path / "config.toml",
        database_url=pg_url,
        state_dir=tmp_path / "state",
        readers=[
            (n, str(r.link_path), "in" if n == "entrance" else "out") for n, r in readers.items()
        ],
        gateway={"id": "hall-a", "duplicate_window_s": 0},
        extra=(
            f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n'
            "\n[fleet]\nheartbeat_s = 1\nsilent_after_s = 5\n"
        ),
    )
    daemon = DaemonProcess(config)
    for r in readers.values():
        await r.start()
    try:
        await asyncio.to_thread(daemon.start)
        await asyncio.to_thread(daemon.wait_ready, 60)
        for r in readers.values():
            await r.wait_online(30)
        _, text = await asyncio.to_thread(scrape, base)
        before = values(text)

        taps = [await readers["entrance"].tap(ANA) for _ in range(5)]
        taps += [await readers["exit"].tap(BEA) for _ in range(3)]
        unknown = await readers["exit"].tap(STRANGER)
        assert all(t.status is Status.OK for t in taps) and unknown.status is Status.KO

        status, text = await asyncio.to_thread(scrape, base)
        assert status == 200
        after = values(text)
        name = "clock_gateway_swipes_total"
        moved = {
            ("entrance", "recorded"): 5,
            ("exit", "recorded"): 3,
            ("exit", "unknown_card"): 1,
        }
        for (reader, outcome), n in moved.items():
            got = one(after, name, reader=reader, outcome=outcome) - one(
                before, name, reader=reader, outcome=outcome
            )
            assert got == n, (reader, outcome, got)
        hist = "clock_gateway_swipe_duration_seconds_count"
        assert one(after, hist) - one(before, hist) == 9
        assert one(after, "clock_gateway_swipe_duration_seconds_sum") > one(
            before, "clock_gateway_swipe_duration_seconds_sum"
        )
        for reader in readers:
            assert one(after, "clock_gateway_link_state", reader=reader, state="ready") == 1
        assert one(after, "clock_gateway_database_up") == 1
        assert one(after, "clock_gateway_spool_depth") == 0
        assert one(after, "clock_gateway_info", gateway="hall-a", version=_version()) == 1

        status, text = await asyncio.to_thread(scrape, base, "/healthz")
        assert status == 200 and json.loads(text)["status"] == "ok"

        # Every row carries the gateway's id.
        with psycopg.connect(pg_url) as conn:
            ids = conn.execute("SELECT DISTINCT gateway_id FROM clock_events").fetchall()
            last = conn.execute("SELECT last_gateway_id FROM unknown_swipes").fetchall()
        assert ids == [("hall-a",)] and last == [("hall-a",)]

        # The heartbeat reached the fleet table; a gateway that stopped beating is silent.
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO gateways (id, version, hostname, started_at, heartbeat_at)"
                " VALUES ('hall-z', '0.0.9', 'old-pc', now() - interval '1 day',"
                " now() - interval '10 minutes')"
            )

        def fleet() -> dict[str, object]:
            result = run_cli("status", "--all", "--json", "--config", str(config))
            return {"code": result.returncode, **json.loads(result.stdout or "{}")}

        deadline = time.monotonic() + 20
        while True:
            doc = await asyncio.to_thread(fleet)
            rows = {g["id"]: g for g in doc.get("gateways", [])}  # type: ignore[attr-defined]
            hall = rows.get("hall-a")
            if (
                hall
                and all(r["state"] == "ready" for r in hall["readers"])
                and len(hall["readers"]) == 2
            ):
                break
            assert time.monotonic() < deadline, f"no heartbeat with both readers ready: {doc}"
            await asyncio.sleep(0.3)
        assert hall["state"] == "running" and hall["spool_depth"] == 0
        assert hall["last_write_at"] is not None
        assert rows["hall-z"]["state"] == "silent" and doc["code"] == 1
        # In a thread: the emulated readers live on this event loop and must keep beating.
        result = await asyncio.to_thread(run_cli, "status", "--all", "--config", str(config))
        text_out = result.stdout
        assert "hall-z" in text_out and "SILENT" in text_out and "2/2" in text_out
        assert await asyncio.to_thread(daemon.stop, 20) == 0
    finally:
        await asyncio.to_thread(daemon.kill)
        for r in readers.values():
            await r.close()


def _version() -> str:
    from gateway import __version__

    return __version__


async def test_a_card_revoked_at_the_office_is_refused_offline_within_seconds(
    pg_cluster: PgCluster, pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(seed, pg_url, PEOPLE)
    proxy = TcpProxy("127.0.0.1", pg_cluster.port)
    await proxy.start()
    reader = VirtualReader("in", name="n-entrance", link_path=tmp_path / "entrance")
    config = write_config(
        tmp_path / "config.toml",
        database_url=proxy.url_for(pg_url),
        state_dir=tmp_path / "state",
        readers=[("entrance", str(reader.link_path), "in")],
        gateway={"id": "hall-b", "duplicate_window_s": 0},
    )
    # The periodic refresh is an hour away: only the notification can refresh it.
    text = config.read_text().replace(
        "[database]\n", "[database]\ndirectory_refresh_s = 3600\nwait_s = 0.5\n"
    )
    config.write_text(text)
    daemon = DaemonProcess(config)
    await reader.start()
    try:
        await asyncio.to_thread(daemon.start)
        await asyncio.to_thread(daemon.wait_ready, 60)
        await reader.wait_online(30)
        await asyncio.to_thread(daemon.wait_event, "card_listen_started", 20)
        assert (await reader.tap(ANA)).status is Status.OK
        assert (await reader.tap(BEA)).status is Status.OK
        assert not daemon.find("directory_refreshed", cards=1)

        # The office revokes Ana's card (another machine, straight to the database).
        revoking = time.monotonic()
        result = await asyncio.to_thread(
            run_cli, "cards", "revoke", "04A1B2C3", env={"CLOCK_GATEWAY_DATABASE_URL": pg_url}
        )
        assert result.returncode == 0, result.stderr
        # The directory without Ana's card: only Bea's is left.
        await until(
            lambda: bool(daemon.find("directory_refreshed", cards=1)),
            5,
            "the gateway's directory refreshed after the revocation",
        )
        took = time.monotonic() - revoking

        # Now the gateway loses the database: it answers from its directory.
        await proxy.cut()
        stranger = await reader.tap(ANA)
        assert stranger.status is Status.KO, stranger
        bea = await reader.tap(BEA)
        assert bea.status is Status.OK and "offline" in bea.text.lower(), bea
        # Its log line is read by another thread: wait for it (bounded), do not peek.
        await asyncio.to_thread(daemon.wait_event, "swipe", 10, durability="spool")
        print(
            json.dumps(
                {
                    "revoke_command_to_refresh_s": round(took, 2),
                    "revoked_card_refused_offline_after_s": round(time.monotonic() - revoking, 2),
                }
            )
        )
        await proxy.restore()
        assert await asyncio.to_thread(daemon.stop, 20) == 0
    finally:
        await asyncio.to_thread(daemon.kill)
        await reader.close()
        await proxy.close()
