"""Archive throughput and storage: REPORTS drained into Parquet on S3, all in one run.

    .venv/bin/python -m benchmarks.archive_throughput [--reports 200000] [--repeat 1]

Against one private embedded stack (JetStream on file storage, SeaweedFS S3):

1. preload ``--reports`` simulated reports into REPORTS (``run_simulation``, 2000 drones);
2. drain them with bare consumers that only fetch and acknowledge, for reference: the
   project's ``PullConsumer`` and nats-py's ``PullSubscription.fetch`` ;
3. start ``peaceland archiver --kind reports`` (its own process, default settings) and time
   it from its first delivery until the consumer has nothing pending or unacknowledged and
   the bucket lists every report; its CPU time and peak RSS come from ``/proc``;
4. storage: bytes of the objects per report, against the reports' JSON size.

Results go to ``benchmarks/results/archive_throughput.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from itertools import islice
from pathlib import Path
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError

from benchmarks.common import median, private_stack, write_results
from peaceland.archive.archiver import consumer_spec
from peaceland.archive.layout import kind_prefix
from peaceland.archive.status import summarize
from peaceland.config import Endpoints, Settings
from peaceland.contract import REPORTS_STREAM
from peaceland.ingest import SimulationOptions
from peaceland.ingest.fleet import Fleet
from peaceland.ingest.simulator import run_simulation
from peaceland.storage import S3Store
from peaceland.stream import ConsumerSpec, PullConsumer, connect, consumer_lag, ensure_consumer
from peaceland.testing import machine

START = datetime(2026, 11, 28, tzinfo=UTC)
DRONES = 2000
SEED = 7
CLOCK_TICKS = 100  # /proc/<pid>/stat times are in clock ticks (sysconf CLK_TCK, 100 on Linux)


async def preload(nats_url: str, count: int, start: datetime = START) -> tuple[float, int]:
    """Publish ``count`` reports from ``start`` (another start, other reports); returns
    (seconds, their JSON bytes)."""
    options = SimulationOptions(drones=DRONES, rate=0, count=count, seed=SEED, start=start)
    began = time.perf_counter()
    summary = await run_simulation(nats_url, options)
    elapsed = time.perf_counter() - began
    if summary.acknowledged != count:
        raise SystemExit(f"preload: {summary.describe()}")
    fleet = Fleet(options.fleet_config(SEED), start)  # the same reports, to weigh them
    return elapsed, sum(len(r.payload) for r in islice(fleet, count))


async def bare_pull_source(nats_url: str, count: int) -> float:
    """Fetch and acknowledge every report with ``PullConsumer``; reports/s."""
    nc = await connect(nats_url, "bench-bare")
    spec = ConsumerSpec(REPORTS_STREAM, "bench-" + uuid.uuid4().hex[:8], max_ack_pending=200_000)
    source = PullConsumer(nc, spec)
    try:
        await source.fetch(1, 1.0, 2**20)  # creates the consumer; the first report is counted
        got, began = 1, time.perf_counter()
        while got < count:
            msgs = await source.fetch(10_000, 1.0, 64 * 2**20)
            await source.settle([m.reply for m in msgs])
            got += len(msgs)
        return count / (time.perf_counter() - began)
    finally:
        await source.close()
        await nc.close()


async def bare_nats_py(nats_url: str, count: int) -> float:
    """Fetch and acknowledge every report with nats-py's pull subscription; reports/s."""
    nc = await connect(nats_url, "bench-bare-nats-py")
    spec = ConsumerSpec(REPORTS_STREAM, "bench-" + uuid.uuid4().hex[:8], max_ack_pending=200_000)
    js = nc.jetstream()
    await ensure_consumer(js, spec)
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    try:
        got, began = 0, time.perf_counter()
        while got < count:
            try:
                msgs = await sub.fetch(5000, timeout=1.0)
            except NatsTimeoutError:
                continue
            for msg in msgs:
                await msg.ack()
            got += len(msgs)
        await nc.flush()
        return count / (time.perf_counter() - began)
    finally:
        await sub.unsubscribe()
        await nc.close()


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    peak_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    return cpu, peak_kb / 1024


async def archiver_run(
    settings: Settings, endpoints: Endpoints, count: int
) -> dict[str, float | int]:
    """One archiver process drains all reports under a fresh durable and key prefix."""
    tag = uuid.uuid4().hex[:8]
    durable, prefix = f"bench-archiver-{tag}", f"bench-{tag}/"
    env = {"PEACELAND_DATA_DIR": str(settings.data_dir), "PEACELAND_LOG_LEVEL": "WARNING"}
    args = ["archiver", "--kind=reports", f"--durable={durable}", f"--key-prefix={prefix}"]
    nc = await connect(endpoints.nats_url, "bench-watch")
    store = S3Store.connect(endpoints)
    js = nc.jetstream()
    spec = consumer_spec("reports", durable=durable)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peaceland", *args, env=_env(env)
    )
    try:
        started = None
        while True:
            lag = await consumer_lag(js, spec)
            now = time.perf_counter()
            if started is None and lag is not None and lag[0] < count:
                started = now  # the first delivery
            if lag == (0, 0):
                listing = await store.list(kind_prefix("reports", prefix))
                objects, rows, size, _ = summarize(listing, prefix)
                if rows >= count:
                    break
            if proc.returncode is not None:
                raise SystemExit(f"archiver exited with {proc.returncode}")
            await asyncio.sleep(0.05)
        elapsed = now - (started or now)
        cpu, peak_rss = proc_stats(proc.pid)
        return {
            "reports_per_s": round(count / elapsed),
            "seconds": round(elapsed, 2),
            "objects": objects,
            "rows": rows,
            "stored_bytes": size,
            "cpu_us_per_report": round(cpu / count * 1e6, 1),
            "peak_rss_mb": round(peak_rss, 1),
        }
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        store.close()
        await nc.close()


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
    env.update(extra)
    return env


async def run(settings: Settings, endpoints: Endpoints, count: int, repeat: int) -> dict[str, Any]:
    preload_s, json_bytes = await preload(endpoints.nats_url, count)
    bare = [await bare_pull_source(endpoints.nats_url, count) for _ in range(repeat)]
    nats_py = [await bare_nats_py(endpoints.nats_url, count) for _ in range(repeat)]
    runs = [await archiver_run(settings, endpoints, count) for _ in range(repeat)]
    archiver = dict(runs[0])
    archiver["reports_per_s"] = round(median([float(r["reports_per_s"]) for r in runs]))
    stored = int(archiver["stored_bytes"])
    return {
        "reports": count,
        "repeat": repeat,
        "preload_reports_per_s": round(count / preload_s),
        "bare_pull_source_reports_per_s": round(median(bare)),
        "bare_nats_py_fetch_reports_per_s": round(median(nats_py)),
        "archiver": archiver,
        "archiver_runs_reports_per_s": [r["reports_per_s"] for r in runs],
        "ratio_to_bare_pull_source": round(archiver["reports_per_s"] / median(bare), 2),
        "json_bytes_per_report": round(json_bytes / count, 1),
        "stored_bytes_per_report": round(stored / count, 1),
        "compression_ratio": round(json_bytes / stored, 1),
    }


def table(results: dict[str, Any]) -> str:
    a = results["archiver"]
    rows = [
        ("archiver, REPORTS → Parquet on S3", f"{a['reports_per_s']:,} reports/s"),
        ("bare fetch + ack (PullConsumer)", f"{results['bare_pull_source_reports_per_s']:,}/s"),
        ("bare fetch + ack (nats-py fetch)", f"{results['bare_nats_py_fetch_reports_per_s']:,}/s"),
        ("archiver / bare PullConsumer", f"{results['ratio_to_bare_pull_source']:.2f}"),
        ("archiver CPU per report", f"{a['cpu_us_per_report']} µs"),
        ("archiver peak RSS", f"{a['peak_rss_mb']} MB"),
        ("objects written", f"{a['objects']}"),
        ("JSON per report", f"{results['json_bytes_per_report']} B"),
        ("stored per report (Parquet, zstd)", f"{results['stored_bytes_per_report']} B"),
        ("compression vs JSON", f"{results['compression_ratio']} x"),
    ]
    lines = [f"| {results['reports']:,} reports preloaded | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    info = machine()
    info["versions"].update({name: version(name) for name in ("pyarrow", "boto3")})
    with private_stack() as (settings, endpoints):
        results = asyncio.run(run(settings, endpoints, args.reports, args.repeat))
    path = write_results("archive_throughput", info, results)
    print(table(results))
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
