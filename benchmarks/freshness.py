"""Freshness: how soon one report is queryable after its publish, under a background load.

    .venv/bin/python -m benchmarks.freshness [--rate 5000] [--seconds 90] [--probe-every 1]

Against one private embedded stack: ``peaceland alerter`` and ``peaceland archiver`` run as
their own processes with default settings, and ``peaceland simulate --rate R`` publishes the
background load. Every ``--probe-every`` seconds one probe report (its own drone and
``report_id``, timestamped now) is published and acknowledged by JetStream; a poller then asks,
as an officer's notebook does, with a fresh ``peaceland.analytics.connect()`` each time,
``SELECT count(*) FROM reports WHERE report_id IN (…)`` for the probes not yet seen. A probe's
latency is from its publish to the end of the first query that returned it (so it includes one
query's time). Results (p50, p99, max, the load actually achieved) go to
``benchmarks/results/freshness.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import markdown_table, private_stack, write_results
from peaceland.analytics import connect
from peaceland.config import Endpoints, Settings
from peaceland.contract import REPORTS_STREAM, report_subject
from peaceland.stream import OutMessage, Publisher
from peaceland.stream import connect as nats_connect
from peaceland.testing import component, machine

PROBE_DRONE = "fresh-probe"
DRONES = 5000


def probe_payload(report_id: str) -> bytes:
    ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    body = {
        "drone_id": PROBE_DRONE,
        "ts": ts,
        "lat": 48.85,
        "lon": 2.35,
        "citizens": [{"name": "Probe Citizen", "peacescore": 80}],
        "words": ["probe"],
        "report_id": report_id,
    }
    return json.dumps(body).encode()


def seen(endpoints: Endpoints, ids: list[str]) -> set[str]:
    """The probes among ``ids`` the ``reports`` view returns, through a fresh connection."""
    con = connect(endpoints)
    try:
        rows = con.execute(
            "SELECT report_id FROM reports WHERE report_id IN (SELECT unnest($ids))", {"ids": ids}
        ).fetchall()
    finally:
        con.close()
    return {row[0] for row in rows}


def quantile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run(
    settings: Settings, endpoints: Endpoints, rate: float, seconds: float, every: float
) -> dict[str, Any]:
    nc = await nats_connect(endpoints.nats_url, "bench-freshness")
    publisher = Publisher(nc)
    js = nc.jetstream()
    sent: dict[str, float] = {}
    latencies: dict[str, float] = {}
    queries: list[float] = []
    try:
        with contextlib.ExitStack() as procs:
            for name in ("alerter", "archiver"):
                procs.enter_context(component([name], settings.data_dir))
            # Each drone reports once a simulated minute: --speed makes DRONES of them send R/s.
            speed = rate * 60 / DRONES
            load_args = ["simulate", f"--drones={DRONES}", f"--rate={rate}", f"--speed={speed}"]
            procs.enter_context(
                component([*load_args, "--duration", str(seconds + 20)], settings.data_dir)
            )
            await asyncio.sleep(10)  # the load and the components settle: not measured
            before = (await js.stream_info(REPORTS_STREAM)).state.messages
            began = time.monotonic()

            async def probe() -> None:
                while time.monotonic() - began < seconds:
                    report_id = f"{PROBE_DRONE}/{uuid.uuid4().hex}"
                    message = OutMessage(
                        report_subject(PROBE_DRONE), probe_payload(report_id), msg_id=report_id
                    )
                    at = time.monotonic()
                    [ack] = await publisher.publish_all([message])
                    if isinstance(ack, Exception):
                        raise SystemExit(f"probe not stored: {ack!r}")
                    sent[report_id] = at
                    await asyncio.sleep(max(0.0, every - (time.monotonic() - at)))

            probing = asyncio.create_task(probe())
            while not probing.done() or len(latencies) < len(sent):
                waiting = [i for i in sent if i not in latencies]
                if not waiting:
                    await asyncio.sleep(0.05)
                    continue
                asked = time.monotonic()
                found = await asyncio.to_thread(seen, endpoints, waiting)
                now = time.monotonic()
                queries.append(now - asked)
                for report_id in found:
                    latencies[report_id] = now - sent[report_id]
                if now - began > seconds + 120:
                    raise SystemExit(f"{len(sent) - len(latencies)} probes never queryable")
            await probing
            elapsed = time.monotonic() - began
            after = (await js.stream_info(REPORTS_STREAM)).state.messages
    finally:
        await nc.close()
    values = sorted(latencies.values())
    return {
        "rate_asked_per_s": rate,
        "background_per_s": round((after - before - len(sent)) / elapsed),
        "probes": len(values),
        "latency_p50_s": round(quantile(values, 50), 2),
        "latency_p99_s": round(quantile(values, 99), 2),
        "latency_max_s": round(values[-1], 2),
        "query_p50_s": round(quantile(queries, 50), 3),
        "queries": len(queries),
    }


def table(results: dict[str, Any]) -> str:
    return markdown_table(
        f"one report queryable after its publish, {results['background_per_s']:,} reports/s "
        "in the background",
        [
            ("probes", f"{results['probes']}"),
            ("latency p50", f"{results['latency_p50_s']} s"),
            ("**latency p99**", f"**{results['latency_p99_s']} s** (target ≤ 5 s)"),
            ("latency max", f"{results['latency_max_s']} s"),
            ("one poll's query (fresh connection), p50", f"{results['query_p50_s']} s"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--probe-every", type=float, default=1.0)
    args = parser.parse_args()
    info = machine()
    with private_stack() as (settings, endpoints):
        results = asyncio.run(run(settings, endpoints, args.rate, args.seconds, args.probe_every))
    path = write_results("freshness", info, results)
    print(table(results))
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
