"""Ingest throughput, all in one run so the figures compare as ratios on a noisy machine.

    .venv/bin/python benchmarks/ingest.py [--reports 100000] [--repeat 3]

Measures, against one private embedded stack (JetStream on file storage, sync always):

* bare nats-py ``publish_async`` of pre-generated reports (the client's ceiling);
* ``peaceland simulate`` (generation + publishing, ``run_simulation``);
* the HTTP gateway (its own process): single-report requests and 500-report batches,
  counting only reports answered 202, i.e. acknowledged by JetStream.

Each measurement is repeated and the median quoted. Results go to
``benchmarks/results/ingest.json``; the markdown table is printed for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import aiohttp
import nats

from benchmarks.common import median, private_stack, write_results
from peaceland.access import Role
from peaceland.contract import MSG_ID_HEADER
from peaceland.ingest import SimulationOptions
from peaceland.ingest.fleet import Fleet, FleetConfig, SimulatedReport
from peaceland.ingest.simulator import run_simulation
from peaceland.servers import free_port
from peaceland.testing import api_headers, component, machine

START = datetime(2026, 11, 28, tzinfo=UTC)
DRONES = 2000


def reports(count: int) -> list[SimulatedReport]:
    """Fresh, never-published reports (a unique prefix defeats the dedup window)."""
    prefix = "b" + uuid.uuid4().hex[:8]
    fleet = Fleet(FleetConfig(drones=DRONES, seed=7, prefix=prefix), START)
    return list(islice(fleet, count))


async def bare_publish_async(nats_url: str, count: int) -> float:
    batch = reports(count)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(publish_async_max_pending=4096)
        started = time.perf_counter()
        futures = [
            await js.publish_async(r.subject, r.payload, headers={MSG_ID_HEADER: r.report_id})
            for r in batch
        ]
        acks = await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
        assert len(acks) == count
        return count / elapsed
    finally:
        await nc.close()


async def simulator(nats_url: str, count: int) -> float:
    options = SimulationOptions(
        drones=DRONES, rate=0, count=count, seed=11, prefix="s" + uuid.uuid4().hex[:8]
    )
    summary = await run_simulation(nats_url, options)
    assert summary.acknowledged == count, summary.describe()
    return summary.rate


async def gateway(
    url: str, headers: dict[str, str], count: int, batch_size: int, concurrency: int
) -> float:
    batch = reports(count)
    bodies = [
        b"[" + b",".join(r.payload for r in batch[i : i + batch_size]) + b"]"
        if batch_size > 1
        else batch[i].payload
        for i in range(0, count, batch_size)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                body = queue.get_nowait()
                async with http.post(url + "/api/v1/reports", data=body) as resp:
                    answer: dict[str, Any] = await resp.json()
                    assert resp.status == 202, (resp.status, answer)
                    accepted += answer["accepted"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    assert accepted == count, (accepted, count)
    return count / elapsed


async def wait_healthy(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not become healthy")
            await asyncio.sleep(0.2)


async def run(count: int, repeat: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {
        "nats_publish_async": [],
        "simulator": [],
        "gateway_single": [],
        "gateway_batch_500": [],
    }
    with private_stack() as (settings, endpoints):
        port = free_port()
        with component(["gateway", "--port", str(port)], settings.data_dir):
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(url)
            headers = await api_headers(endpoints.nats_url, Role.DRONE)
            for round_ in range(1, repeat + 1):
                # Interleaved, so a slow moment of the machine hits every candidate alike.
                rates["nats_publish_async"].append(
                    await bare_publish_async(endpoints.nats_url, count)
                )
                rates["simulator"].append(await simulator(endpoints.publisher_url, count))
                rates["gateway_single"].append(await gateway(url, headers, count // 10, 1, 32))
                rates["gateway_batch_500"].append(await gateway(url, headers, count, 500, 4))
                print(
                    f"round {round_}: "
                    + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()),
                    flush=True,
                )
    return rates


def table(rates: dict[str, list[float]]) -> str:
    base = median(rates["nats_publish_async"])
    lines = [
        "| path | median reports/s | runs | vs bare publish_async |",
        "|---|---:|---|---:|",
    ]
    for name, values in rates.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        lines.append(f"| {name} | {median(values):,.0f} | {runs} | {median(values) / base:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000, help="reports per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is quoted")
    args = parser.parse_args()
    info = machine()
    rates = asyncio.run(run(args.reports, args.repeat))
    medians = {name: median(values) for name, values in rates.items()}
    path = write_results(
        "ingest",
        info,
        {
            "reports_per_measurement": args.reports,
            "runs": rates,
            "median": medians,
            "targets": {"simulator": 20_000, "gateway_batch_500": 20_000},
        },
    )
    print(table(rates))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
