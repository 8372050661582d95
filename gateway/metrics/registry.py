"""The daemon's Prometheus metrics, in a registry of its own.

Two kinds of figures:

- counted on the swipe path as they happen: swipes by reader and outcome, and the
  swipe latency histogram. Each costs a dictionary look-up and a locked add;
- read at scrape time from a `GatewaySample` the daemon takes on its event loop when
  asked (gateway.metrics.server): spool depth and the age of its oldest record, events
  replayed from the spool (a counter: its `rate()` is the drain rate), each reader's
  link state, the database state. Nothing is computed between scrapes, so an
  unscraped gateway pays nothing for them (256 idle readers must stay under 1 % CPU).

The registry is not prometheus_client's global one: tests and the benchmarks start
several daemons' worth of metrics in one process, and a library import that registers
collectors globally must not leak into what the gateway serves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gateway import __version__

# The link states a reader can be in (gateway.link.LinkState); every one is exported
# for every reader, 1 for the current one, so that `== 0` alerts need no absent().
LINK_STATES = ("starting", "down", "await_hello", "ready", "silent", "refused", "stopped")
# Swipe latency buckets: a database commit on loopback is ~0.5 ms, the bounded wait
# for the database is 1 s by default, and a reader retransmits after ~1 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class ReaderSample:
    name: str
    state: str  # a LINK_STATES value
    supervised: bool  # its link task is alive (it reconnects by itself)


@dataclass(frozen=True)
class GatewaySample:
    """What the daemon is doing, taken on its event loop at one instant."""

    readers: tuple[ReaderSample, ...] = ()
    readers_configured: int = 0
    database_ok: bool = False
    spool_depth: int = 0
    spool_max: int = 0
    spool_writable: bool = False  # opened, not failing; full is separate (depth >= max)
    spool_oldest_at: datetime | None = None
    spool_replayed: int = 0  # events replayed into the database since the start
    dead_letters: int = 0
    last_db_write_at: datetime | None = None
    directory_cards: int = 0
    directory_age_s: float | None = None
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def spool_full(self) -> bool:
        return self.spool_max > 0 and self.spool_depth >= self.spool_max

    def health_problems(self) -> list[str]:
        """Why this gateway cannot do its job right now; empty when it can."""
        problems = []
        supervised = sum(1 for r in self.readers if r.supervised)
        if supervised < self.readers_configured:
            problems.append(
                f"{self.readers_configured - supervised} of {self.readers_configured}"
                " configured readers have no supervised link"
            )
        if not self.database_ok and (not self.spool_writable or self.spool_full):
            why = "full" if self.spool_writable else "not writable"
            problems.append(f"database unreachable and spool {why}: swipes cannot be kept")
        return problems


class GatewayMetrics:
    """The metrics of one daemon; `registry` is what /metrics serves."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.registry = CollectorRegistry(auto_describe=True)
        self._swipes = Counter(
            "clock_gateway_swipes",
            "Swipes answered, by reader and outcome "
            "(recorded, duplicate, unknown_card, store_unavailable, error).",
            ["reader", "outcome"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "clock_gateway_swipe_duration_seconds",
            "Time from a SWIPE handed over by its link to the answer (card lookup and "
            "durable storage: database commit or fsync'd spool).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # labels() takes a lock and builds a tuple each call: keep the children.
        self._children: dict[tuple[str, str], Counter] = {}
        self._children_lock = threading.Lock()
        self._sample = GatewaySample()
        self._probe_lag_s: float | None = None
        self.registry.register(_SampleCollector(self))

    # -- counted as it happens (the event loop's thread) --------------------------------
    def swipe(self, reader: str, outcome: str, seconds: float) -> None:
        child = self._children.get((reader, outcome))
        if child is None:
            with self._children_lock:
                child = self._swipes.labels(reader=reader, outcome=outcome)
                self._children[(reader, outcome)] = child
        child.inc()
        self._latency.observe(seconds)

    # -- read at scrape time (the HTTP server's thread) -----------------------------------
    def set_sample(self, sample: GatewaySample, probe_lag_s: float | None) -> None:
        """The sample to export; probe_lag_s is how long the event loop took to take it
        (None: it did not answer, and the sample is the last one it gave)."""
        self._sample = sample  # one reference assignment: atomic for the other thread
        self._probe_lag_s = probe_lag_s

    @property
    def sample(self) -> GatewaySample:
        return self._sample


class _SampleCollector(Collector):
    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return list(self._families(GatewaySample(), None))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self._metrics.sample, self._metrics._probe_lag_s))

    def _families(self, s: GatewaySample, lag: float | None) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "clock_gateway_info", "This gateway: its id and version.", labels=["gateway", "version"]
        )
        info.add_metric([self._metrics.gateway_id, __version__], 1)
        yield info
        yield GaugeMetricFamily(
            "clock_gateway_event_loop_lag_seconds",
            "How long the daemon's event loop took to answer the scrape's probe "
            "(+Inf: it did not answer in time).",
            value=float("inf") if lag is None else lag,
        )
        yield GaugeMetricFamily(
            "clock_gateway_database_up",
            "1 while the database answers the swipe path, 0 while swipes go to the spool.",
            value=1 if s.database_ok else 0,
        )
        yield GaugeMetricFamily(
            "clock_gateway_last_database_write_timestamp_seconds",
            "Unix time of the last successful database write (0: none since start).",
            value=s.last_db_write_at.timestamp() if s.last_db_write_at else 0,
        )
        yield GaugeMetricFamily(
            "clock_gateway_spool_depth",
            "Acknowledged swipes in the local spool, waiting for the database.",
            value=s.spool_depth,
        )
        yield GaugeMetricFamily(
            "clock_gateway_spool_capacity",
            "The spool's bound (spool.max_events); at it, new swipes get KO.",
            value=s.spool_max,
        )
        yield GaugeMetricFamily(
            "clock_gateway_spool_oldest_age_seconds",
            "Age of the oldest swipe waiting in the spool (0 when it is empty).",
            value=_age(s.spool_oldest_at, s.taken_at) if s.spool_depth else 0.0,
        )
        yield CounterMetricFamily(
            "clock_gateway_spool_replayed_events",
            "Spooled events replayed into the database; rate() of it is the drain rate.",
            value=s.spool_replayed,
        )
        yield GaugeMetricFamily(
            "clock_gateway_spool_writable",
            "1 while the spool can take swipes (open, not failing, not full).",
            value=1 if s.spool_writable and not s.spool_full else 0,
        )
        yield GaugeMetricFamily(
            "clock_gateway_dead_letters",
            "Swipes the database refused for good, kept in spool/dead-letter.jsonl.",
            value=s.dead_letters,
        )
        yield GaugeMetricFamily(
            "clock_gateway_card_directory_cards",
            "Cards in the last-known card directory (used while the database is away).",
            value=s.directory_cards,
        )
        yield GaugeMetricFamily(
            "clock_gateway_card_directory_age_seconds",
            "Seconds since the card directory was last refreshed from the database.",
            value=-1.0 if s.directory_age_s is None else s.directory_age_s,
        )
        yield GaugeMetricFamily(
            "clock_gateway_readers_configured",
            "Readers in the configuration.",
            value=s.readers_configured,
        )
        states = GaugeMetricFamily(
            "clock_gateway_link_state",
            "Each reader's link state: 1 for the current one, 0 for the others.",
            labels=["reader", "state"],
        )
        for reader in s.readers:
            for state in LINK_STATES:
                states.add_metric([reader.name, state], 1 if reader.state == state else 0)
        yield states


def _age(then: datetime | None, now: datetime) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())
