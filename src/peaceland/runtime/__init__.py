"""Running components: logging, signal handling, Prometheus metrics, and the supervisor of
``peaceland run`` / ``demo``.
"""

from __future__ import annotations

from peaceland.runtime.metrics import (
    ALERT_LATENCY,
    ARCHIVE_FLUSH_ROWS,
    ARCHIVE_FLUSH_SECONDS,
    CountersCollector,
    counters_collector,
    registry,
    serve_metrics,
)
from peaceland.runtime.runner import run_until_stopped, setup_logging
from peaceland.runtime.supervisor import run_foreground

__all__ = [
    "ALERT_LATENCY",
    "ARCHIVE_FLUSH_ROWS",
    "ARCHIVE_FLUSH_SECONDS",
    "CountersCollector",
    "counters_collector",
    "registry",
    "run_foreground",
    "run_until_stopped",
    "serve_metrics",
    "setup_logging",
]
