"""Publish → SSE latency: how long from an alert's publication to its event on
``GET /api/v1/alerts/stream``.

    .venv/bin/python -m benchmarks.sse_probe [--count 400] [--interval 0.05] [--load-rate 0]

``SseProbe`` is the reusable part (``benchmarks/alert_latency.py`` can call it): it follows
the stream of a running gateway and records when each alert id arrives.

The standalone run starts one private embedded stack and ``peaceland gateway`` in its own
process (the SSE server, as in production), then from this process publishes a probe alert
every ``--interval`` straight to ``peaceland.alerts.<drone>`` (with ``Nats-Msg-Id``, as the
alerter does) and measures, for the same alerts:

* publish → the message on a core NATS subscription to ``peaceland.alerts.>`` (the floor:
  JetStream storing the message, one hop);
* publish → its SSE event (JetStream → the gateway's ordered consumer → HTTP chunk).

``--load-rate R`` adds ``peaceland simulate`` at R reports/s (``--bad-rate 0``) and an alerter
in their own processes, to see SSE latency on a busy machine. Results go to
``benchmarks/results/sse_latency.json``; the markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import nats
from nats.aio.msg import Msg

from benchmarks.common import private_stack, write_results
from peaceland.access import Role
from peaceland.contract import (
    ALERTS_PREFIX,
    MSG_ID_HEADER,
    Alert,
    alert_subject,
    encode_alert,
    format_raised_at,
)
from peaceland.servers import free_port
from peaceland.testing import api_headers, component, machine
from peaceland.web.sse_client import sse_events

PROBE_DRONE = "sse-probe"


class SseProbe:
    """Follows an SSE alert stream; ``arrivals[alert_id]`` = ``time.perf_counter()`` on arrival.

    ``await probe.start()`` returns once the server answered (from then on no new alert is
    missed); ``await probe.wait_for(alert_id, timeout)`` returns the arrival time or None.
    """

    def __init__(self, session: aiohttp.ClientSession, stream_url: str) -> None:
        self.session = session
        self.url = stream_url
        self.arrivals: dict[str, float] = {}
        self.events = 0
        self._opened = asyncio.Event()
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 10.0) -> None:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), timeout)

    async def _read(self) -> None:
        async for event in sse_events(self.session, self.url, opened=self._opened):
            alert_id = msgspec.json.decode(event.data, type=Alert).alert_id
            self.arrivals.setdefault(alert_id, event.received_at)
            self.events += 1
            self._arrived.set()

    async def wait_for(self, alert_id: str, timeout: float) -> float | None:
        deadline = time.perf_counter() + timeout
        while alert_id not in self.arrivals:
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or (self._task is not None and self._task.done()):
                return None
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return self.arrivals[alert_id]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def percentiles(samples: list[float]) -> dict[str, float | int]:
    """Nearest-rank percentiles, in milliseconds."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000, 2)

    return {"n": len(ordered), "p50_ms": rank(0.5), "p99_ms": rank(0.99), "max_ms": rank(1.0)}


def probe_alert(n: int) -> Alert:
    now = datetime.now(UTC)
    report_id = f"{PROBE_DRONE}:{n}:{now.timestamp():.6f}"
    return Alert(
        alert_id=report_id + "/0",
        report_id=report_id,
        drone_id=PROBE_DRONE,
        ts=now,
        lat=48.85,
        lon=2.35,
        citizen="Probe Citizen",
        peacescore=1,
        severity="critical",
        words=["probe"],
        raised_at=format_raised_at(now),
    )


async def measure(nats_url: str, stream_url: str, count: int, interval: float) -> dict[str, Any]:
    """Publish ``count`` probe alerts; latencies to core NATS and to SSE, same alerts."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    core: dict[str, float] = {}

    async def on_core(msg: Msg) -> None:
        core.setdefault(msgspec.json.decode(msg.data, type=Alert).alert_id, time.perf_counter())

    await nc.subscribe(ALERTS_PREFIX + PROBE_DRONE, cb=on_core)
    headers = await api_headers(nats_url, Role.VIEWER)
    async with aiohttp.ClientSession(headers=headers) as session:
        probe = SseProbe(session, stream_url)
        await probe.start()
        sent: dict[str, float] = {}
        next_at = time.perf_counter()
        for n in range(count):
            alert = probe_alert(n)
            payload = encode_alert(alert)
            sent[alert.alert_id] = time.perf_counter()
            await js.publish(
                alert_subject(PROBE_DRONE), payload, headers={MSG_ID_HEADER: alert.alert_id}
            )
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        for alert_id in sent:
            await probe.wait_for(alert_id, 5.0)
        await probe.stop()
    await nc.drain()
    sse = [probe.arrivals[a] - t for a, t in sent.items() if a in probe.arrivals]
    floor = [core[a] - t for a, t in sent.items() if a in core]
    return {
        "publish_to_core_nats": percentiles(floor),
        "publish_to_sse": percentiles(sse),
        "lost_sse": len(sent) - len(sse),
    }


def run(count: int, interval: float, load_rate: float) -> dict[str, Any]:
    info = machine()
    with private_stack() as (settings, endpoints):
        port = free_port()
        data_dir = settings.data_dir
        with contextlib.ExitStack() as procs:
            procs.enter_context(component(["gateway", "--port", str(port)], data_dir))
            if load_rate > 0:
                procs.enter_context(component(["alerter"], data_dir))
                fleet = ["simulate", "--drones", "5000", "--speed", "60", "--bad-rate", "0"]
                procs.enter_context(component([*fleet, "--rate", str(load_rate)], data_dir))
            url = f"http://127.0.0.1:{port}"
            _wait_http(url + "/healthz")
            time.sleep(2.0 if load_rate > 0 else 0.2)  # let the load settle
            figures = asyncio.run(
                measure(endpoints.nats_url, url + "/api/v1/alerts/stream", count, interval)
            )
    result = {"count": count, "interval_s": interval, "load_reports_per_s": load_rate, **figures}
    path = write_results(f"sse_latency{'_load' if load_rate else ''}", info, result)
    print(f"results: {path}")
    return result


def _wait_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| background load | path | n | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        load = f"{r['load_reports_per_s']:,.0f} reports/s" if r["load_reports_per_s"] else "none"
        for key, name in (
            ("publish_to_core_nats", "publish → core NATS"),
            ("publish_to_sse", "publish → SSE event"),
        ):
            f = r[key]
            cells = [load, name, f["n"], f.get("p50_ms"), f.get("p99_ms"), f.get("max_ms")]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--load-rate", type=float, default=0.0)
    args = parser.parse_args()
    print(table([run(args.count, args.interval, args.load_rate)]))


if __name__ == "__main__":
    main()
