"""/metrics and /readyz of the web app, and /metrics of a component process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from alert_helpers import web_app
from peaceland.servers import free_port

pytestmark = pytest.mark.slow


def values(text: str) -> dict[str, float]:
    return {
        s.name + json.dumps(s.labels, sort_keys=True): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_web_metrics_count_ingest_and_show_consumer_lag(stack: Any) -> None:
    drone = "mt-" + uuid.uuid4().hex[:10]
    report = {
        "drone_id": drone,
        "ts": "2026-11-28T10:00:00Z",
        "lat": 1.0,
        "lon": 2.0,
        "citizens": [],
        "words": [],
    }
    async with web_app(stack) as web:
        js = web.js
        await js.add_consumer("REPORTS", durable_name=f"lagging-{drone}")
        status, _ = await web.post("/api/v1/reports", [report, {"bad": True}])
        assert status == 202
        async with web.http.get(web.url + "/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            found = values(await resp.text())
        assert found["peaceland_gateway_accepted_total{}"] == 1
        assert found["peaceland_gateway_rejected_total{}"] == 1
        lag = found[
            'peaceland_consumer_pending{"consumer": "lagging-' + drone + '", "stream": "REPORTS"}'
        ]
        assert lag >= 1
        status, body = await web.get("/readyz")
        assert (status, body) == (200, {"status": "ready", "problems": []})
        await js.delete_consumer("REPORTS", f"lagging-{drone}")


def test_alerter_process_serves_its_counters(stack: Any) -> None:
    port = free_port()
    durable = "test-metrics-" + uuid.uuid4().hex[:8]
    args = ["alerter", "--durable", durable, "--filter-subject", "peaceland.reports.x-" + durable]
    proc = subprocess.Popen(
        [sys.executable, "-m", "peaceland", *args],
        env=stack.env(PEACELAND_METRICS_PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        text = ""
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
        found = values(text)
        assert found["peaceland_alerter_reports_seen_total{}"] == 0
        assert "peaceland_alert_latency_seconds_count{}" in found
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
