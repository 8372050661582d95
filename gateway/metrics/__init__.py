"""Prometheus metrics and the health check of the daemon.

`registry`: what is measured (in a registry of its own); `server`: `/metrics` and
`/healthz` over HTTP, from a thread of their own.
"""

from gateway.metrics.registry import LINK_STATES, GatewayMetrics, GatewaySample, ReaderSample
from gateway.metrics.server import MetricsServer

__all__ = ["LINK_STATES", "GatewayMetrics", "GatewaySample", "MetricsServer", "ReaderSample"]
