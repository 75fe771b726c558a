"""Running components: one runner (logging, signals, graceful stop, restart with backoff),
their NATS connection, Prometheus metrics, and the supervisor of ``peaceland run`` / ``demo``.
"""

from __future__ import annotations

from peaceland.runtime.component import (
    STOP_GRACE_S,
    Backoff,
    Component,
    keep_running,
    run_component,
    run_until_stopped,
    wait_or_stop,
)
from peaceland.runtime.connection import component_client, component_connection
from peaceland.runtime.metrics import (
    ALERT_LATENCY,
    ARCHIVE_FLUSH_ROWS,
    ARCHIVE_FLUSH_SECONDS,
    CountersCollector,
    counters_collector,
    expose_metrics,
    registry,
    sample_value,
    scrape,
    serve_metrics,
)
from peaceland.runtime.runner import setup_logging
from peaceland.runtime.supervisor import run_foreground

__all__ = [
    "ALERT_LATENCY",
    "ARCHIVE_FLUSH_ROWS",
    "ARCHIVE_FLUSH_SECONDS",
    "STOP_GRACE_S",
    "Backoff",
    "Component",
    "CountersCollector",
    "component_client",
    "component_connection",
    "counters_collector",
    "expose_metrics",
    "keep_running",
    "registry",
    "run_component",
    "run_foreground",
    "run_until_stopped",
    "sample_value",
    "scrape",
    "serve_metrics",
    "setup_logging",
    "wait_or_stop",
]
