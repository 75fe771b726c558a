"""Counters dataclasses become Prometheus families at scrape time."""

from __future__ import annotations

import dataclasses

from prometheus_client.parser import text_string_to_metric_families

from peaceland.runtime import ALERT_LATENCY, counters_collector, registry
from peaceland.runtime.metrics import render


@dataclasses.dataclass
class Counters:
    seen: int = 0
    lag: int = 0
    last_error: str | None = None


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_counters_are_read_live_and_gauges_stay_gauges() -> None:
    counters = Counters()
    reg = registry(counters_collector("alerter", counters, gauges=("lag",), labels={"i": "1"}))
    counters.seen, counters.lag = 7, 3
    found = samples(render(reg))
    assert found[("peaceland_alerter_seen_total", (("i", "1"),))] == 7
    assert found[("peaceland_alerter_lag", (("i", "1"),))] == 3
    assert not any("last_error" in name for name, _ in found)
    counters.lag = 0
    assert samples(render(reg))[("peaceland_alerter_lag", (("i", "1"),))] == 0


def test_each_instance_gets_its_own_registry_with_the_shared_histograms() -> None:
    first = registry(counters_collector("a", Counters()))
    second = registry(counters_collector("a", Counters()))  # no duplicate-name error
    ALERT_LATENCY.observe(0.004)
    for reg in (first, second):
        found = samples(render(reg))
        assert found[("peaceland_alert_latency_seconds_count", ())] >= 1
        assert ("process_resident_memory_bytes", ()) in found
