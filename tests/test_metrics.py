"""The metrics registry and the /metrics + /healthz endpoint, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import GatewayMetrics, GatewaySample, MetricsServer, ReaderSample

ALERTS = Path(__file__).resolve().parents[1] / "docs" / "alerts.yml"


def _sample(**changes: object) -> GatewaySample:
    base: dict[str, object] = {
        "readers": (
            ReaderSample("entrance", "ready", True),
            ReaderSample("exit", "down", True),
        ),
        "readers_configured": 2,
        "database_ok": True,
        "spool_depth": 0,
        "spool_max": 1000,
        "spool_writable": True,
    }
    base.update(changes)
    return GatewaySample(**base)  # type: ignore[arg-type]


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def _serve(sample: list[GatewaySample], **kwargs: float) -> tuple[MetricsServer, str]:
    metrics = GatewayMetrics("hall-a")
    server = MetricsServer(metrics, lambda: sample[0], "127.0.0.1", 0, **kwargs)
    host, port = await server.start()
    return server, f"http://{host}:{port}"


async def test_metrics_count_and_sample() -> None:
    sample = [_sample(spool_depth=7, database_ok=False, spool_oldest_at=None)]
    server, base = await _serve(sample)
    try:
        m = server.metrics
        for _ in range(3):
            m.swipe("entrance", "recorded", 0.002)
        m.swipe("exit", "unknown_card", 0.3)
        then = datetime.now(UTC) - timedelta(seconds=30)
        sample[0] = _sample(
            spool_depth=7, database_ok=False, spool_oldest_at=then, spool_replayed=40
        )
        status, ctype, text = await asyncio.to_thread(_get, base + "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        v = _values(text)
        assert (
            v[("clock_gateway_swipes_total", (("outcome", "recorded"), ("reader", "entrance")))]
            == 3
        )
        assert (
            v[("clock_gateway_swipes_total", (("outcome", "unknown_card"), ("reader", "exit")))]
            == 1
        )
        assert v[("clock_gateway_swipe_duration_seconds_count", ())] == 4
        assert v[("clock_gateway_swipe_duration_seconds_bucket", (("le", "0.005"),))] == 3
        assert v[("clock_gateway_spool_replayed_events_total", ())] == 40
        assert v[("clock_gateway_spool_depth", ())] == 7
        assert 29 <= v[("clock_gateway_spool_oldest_age_seconds", ())] < 60
        assert v[("clock_gateway_database_up", ())] == 0
        assert v[("clock_gateway_link_state", (("reader", "entrance"), ("state", "ready")))] == 1
        assert v[("clock_gateway_link_state", (("reader", "exit"), ("state", "ready")))] == 0
        assert v[("clock_gateway_link_state", (("reader", "exit"), ("state", "down")))] == 1
        assert v[("clock_gateway_info", (("gateway", "hall-a"), ("version", _version())))] == 1
        assert 0 <= v[("clock_gateway_event_loop_lag_seconds", ())] < 2
        # Its own registry: nothing leaks into prometheus_client's global one.
        assert REGISTRY.get_sample_value("clock_gateway_spool_depth") is None
    finally:
        await server.stop()


def _version() -> str:
    from gateway import __version__

    return __version__


async def test_healthz_ok_and_unhealthy() -> None:
    sample = [_sample()]
    server, base = await _serve(sample)
    try:
        status, ctype, text = await asyncio.to_thread(_get, base + "/healthz")
        assert (status, ctype) == (200, "application/json")
        body = json.loads(text)
        assert body["status"] == "ok" and body["gateway"] == "hall-a"
        assert body["readers_supervised"] == 2 and body["database"] == "ok"

        # Database away, spool fine: still healthy (swipes go to the spool).
        sample[0] = _sample(database_ok=False, spool_depth=10)
        status, _, text = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 200, text

        # Database away and spool full: nothing can keep a swipe.
        sample[0] = _sample(database_ok=False, spool_depth=1000)
        status, _, text = await asyncio.to_thread(_get, base + "/healthz")
        body = json.loads(text)
        assert status == 503 and body["status"] == "unhealthy"
        assert "spool full" in body["problems"][0]

        # A configured reader without a supervised link.
        sample[0] = _sample(readers=(ReaderSample("entrance", "ready", True),))
        status, _, text = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 503 and "1 of 2 configured readers" in json.loads(text)["problems"][0]

        status, _, _ = await asyncio.to_thread(_get, base + "/nothing")
        assert status == 404
    finally:
        await server.stop()


async def test_healthz_answers_503_while_the_event_loop_is_stuck() -> None:
    sample = [_sample()]
    server, base = await _serve(sample, probe_timeout_s=0.3)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            request = pool.submit(_get, base + "/healthz")  # sent at once, from a thread
            # Block the event loop (as a runaway computation would) while it waits.
            time.sleep(1.0)
            status, _, text = request.result(timeout=10)
        body = json.loads(text)
        assert status == 503 and "event loop did not answer" in body["problems"][0]
        # And /metrics says so too once the loop is back (it answers again).
        status, _, text = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 200
    finally:
        await server.stop()


async def test_listen_failure_is_one_clear_error() -> None:
    sample = [_sample()]
    server, _ = await _serve(sample)
    try:
        host, port = server.address
        other = MetricsServer(GatewayMetrics("x"), lambda: sample[0], host, port)
        with pytest.raises(Exception, match=f"cannot listen on 127.0.0.1:{port} for metrics"):
            await other.start()
    finally:
        await server.stop()


def test_alert_rules_are_valid_and_name_real_metrics() -> None:
    doc = yaml.safe_load(ALERTS.read_text())
    rules = [r for group in doc["groups"] for r in group["rules"]]
    names = {r["alert"] for r in rules}
    assert {"ClockGatewayReaderDown", "ClockGatewaySpoolGrowing"} <= names
    assert any("Database" in n for n in names)
    exported = _exported_names()
    for rule in rules:
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in {"warning", "critical"}
        used = set(_metric_names(rule["expr"]))
        assert used or rule["expr"].startswith("up{"), rule["expr"]
        unknown = used - exported
        assert not unknown, f"{rule['alert']} uses metrics that do not exist: {unknown}"


def _exported_names() -> set[str]:
    metrics = GatewayMetrics("x")
    metrics.swipe("r", "recorded", 0.001)
    metrics.set_sample(_sample(), 0.001)
    from prometheus_client import generate_latest

    names = set()
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        names |= {s.name for s in family.samples}
    return names


def _metric_names(expr: str) -> list[str]:
    import re

    return re.findall(r"\b(clock_gateway_[a-z_]+)\b", expr)


def test_every_link_state_is_exported() -> None:
    from gateway.link import LinkState
    from gateway.metrics import LINK_STATES

    assert set(LINK_STATES) == {s.value for s in LinkState}
