"""Prometheus metrics: every long-running component exports its counters in one way.

Components keep plain counter dataclasses (cheap to bump, easy to test); this module turns
them into Prometheus families at scrape time, so no component imports ``prometheus_client``
in its hot path. The gateway serves ``/metrics`` on its HTTP port; the alerter, archiver and
webhooks serve it on ``--metrics-port`` (or ``PEACELAND_METRICS_PORT``) when given.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from peaceland.stream import STREAMS, JetStreamContext, Lag

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Report stored in REPORTS → its alerts stored in ALERTS, on the alerter's durable path.
ALERT_LATENCY = Histogram(
    "peaceland_alert_latency_seconds",
    "Time from a report being stored to its alerts being stored (durable path)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=None,
)
ARCHIVE_FLUSH_SECONDS = Histogram(
    "peaceland_archive_flush_seconds",
    "Time to encode and write one archive object",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=None,
)
ARCHIVE_FLUSH_ROWS = Histogram(
    "peaceland_archive_flush_rows",
    "Rows per archive object written",
    ["kind"],
    buckets=(10, 100, 1_000, 10_000, 50_000, 100_000, 500_000),
    registry=None,
)
_HISTOGRAMS = (ALERT_LATENCY, ARCHIVE_FLUSH_SECONDS, ARCHIVE_FLUSH_ROWS)

Source = Callable[[], Mapping[str, Any]]


class CountersCollector(Collector):
    """Exports the numeric fields of a component's counters: ``peaceland_<component>_<name>``.

    Fields named in ``gauges`` go out as gauges (values that go down, such as lag), the rest
    as counters (``_total``). ``labels`` tell several sources of one component apart.
    """

    def __init__(
        self,
        component: str,
        source: Source,
        *,
        gauges: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.component = component
        self.source = source
        self.gauges = frozenset(gauges)
        self.labels = dict(labels or {})

    def collect(self) -> Iterator[Metric]:
        names, values = list(self.labels), list(self.labels.values())
        for name, value in self.source().items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            full = f"peaceland_{self.component}_{name}"
            help_text = f"{self.component}: {name.replace('_', ' ')}"
            family: Metric
            if name in self.gauges:
                family = GaugeMetricFamily(full, help_text, labels=names)
            else:
                family = CounterMetricFamily(full, help_text, labels=names)
            family.add_metric(values, float(value))
            yield family


def counters_collector(
    component: str,
    counters: Any,
    *,
    gauges: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
) -> CountersCollector:
    """A collector over a dataclass of counters, read live at each scrape."""

    def source() -> Mapping[str, Any]:
        return {f.name: getattr(counters, f.name) for f in dataclasses.fields(counters)}

    return CountersCollector(component, source, gauges=gauges, labels=labels)


def registry(*collectors: Collector) -> CollectorRegistry:
    """A registry for one component instance: its collectors, the shared histograms, and the
    process' CPU and memory. One per instance, so tests can build many in one process."""
    reg = CollectorRegistry()
    for collector in (*collectors, *_HISTOGRAMS):
        reg.register(collector)
    ProcessCollector(registry=reg)
    return reg


class ConsumerLag(Collector):
    """Pending and unacknowledged messages per durable consumer of the contract's streams.

    Refreshed from JetStream before each scrape (``refresh``), since reading it is async.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, int]] = []

    async def refresh(self, js: JetStreamContext) -> None:
        rows: list[tuple[str, str, int, int]] = []
        for spec in STREAMS:
            try:
                infos = await js.consumers_info(spec.name)
            except Exception as exc:  # a scrape must not fail because a stream is missing
                log.debug("consumers of %s: %s", spec.name, exc)
                continue
            for info in infos:
                name = info.name or (info.config.durable_name if info.config else None) or "?"
                rows.append((spec.name, name, *Lag.of(info)))
        self.rows = rows

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "peaceland_consumer_pending",
            "Messages not yet delivered to a durable consumer (lag)",
            labels=["stream", "consumer"],
        )
        unacked = GaugeMetricFamily(
            "peaceland_consumer_ack_pending",
            "Messages delivered to a durable consumer and not yet acknowledged",
            labels=["stream", "consumer"],
        )
        for stream, consumer, waiting, in_hand in self.rows:
            pending.add_metric([stream, consumer], waiting)
            unacked.add_metric([stream, consumer], in_hand)
        yield pending
        yield unacked


def render(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)


def serve_metrics(reg: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` from a background thread (components without an HTTP server)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=reg)
    log.info("metrics on http://%s:%d/metrics", host, port)


def expose_metrics(port: int | None, *collectors: Collector) -> CollectorRegistry | None:
    """Serve ``collectors`` on ``port`` (the setting ``metrics_port``) when one is configured."""
    if port is None:
        return None
    reg = registry(*collectors)
    serve_metrics(reg, port)
    return reg


def scrape(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> list[Sample] | None:
    """Every sample a component serves on ``/metrics``; ``None`` while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def sample_value(
    samples: Iterable[Sample], name: str, labels: Mapping[str, str] | None = None
) -> float | None:
    """The value of the sample ``name`` with ``labels`` among ``samples``; ``None`` if absent."""
    wanted = labels or {}
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
            return float(sample.value)
    return None
