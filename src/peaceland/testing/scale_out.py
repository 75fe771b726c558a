"""Consumers scaled out, measured: K alerters or K archivers sharing one durable drain a
preloaded REPORTS backlog; how fast, at what CPU per report, and how the work was shared.

Shared by ``benchmarks/cluster.py`` (the figures of ``docs/benchmarks.md`` and
``docs/capacity.md``) and ``tests/cluster/test_scale_out.py`` (the same run, small, asserting
that every process got a share and nothing was lost or handled twice).

Each run uses a durable of its own from the start of REPORTS (and, for archivers, a key prefix
of its own), so runs never disturb each other. The durable is created paused, and resumed
once every process waits on it with a pull request: no process drains the backlog alone while
the others still start. Time and CPU (the processes' and the servers') are counted from the
resume to the end, CPU divided by the reports handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from peaceland.analytics import catalog
from peaceland.contract import REPORTS_STREAM
from peaceland.ingest import SimulationOptions
from peaceland.ingest.simulator import run_simulation
from peaceland.runtime import sample_value, scrape
from peaceland.servers import free_port
from peaceland.stream import ConsumerSpec, NatsClient, connect, consumer_lag, ensure_consumer
from peaceland.testing.processes import component
from peaceland.testing.stack import Stack

Role = Literal["alerter", "archiver"]

START = datetime(2026, 11, 28, tzinfo=UTC)
DRONES = 2000
SEED = 11
CLOCK_TICKS = 100  # /proc/<pid>/stat times are in clock ticks (CLK_TCK, 100 on Linux)
POLL_S = 0.05
#: The metric each role counts its handled reports with.
HANDLED = {
    "alerter": ("peaceland_alerter_reports_seen_total", {}),
    "archiver": ("peaceland_archiver_archived_total", {"kind": "reports"}),
}


@dataclasses.dataclass(frozen=True)
class ScaleRun:
    """One configuration: ``processes`` of ``role`` over ``reports`` on ``nodes`` nodes."""

    role: Role
    processes: int
    nodes: int
    reports: int
    seconds: float
    reports_per_s: float
    #: Handled by each process (their sum exceeds ``reports`` only by redeliveries).
    shares: tuple[int, ...]
    cpu_us_per_report: float
    #: nats-server and weed processes over the same window, per report of the backlog.
    nats_cpu_us_per_report: float
    weed_cpu_us_per_report: float
    #: Archivers: rows written under the run's prefix and distinct report ids among them.
    archived_rows: int | None = None
    archived_distinct: int | None = None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def preload(stack: Stack, count: int, start: datetime = START) -> float:
    """Publish ``count`` simulated reports as fast as JetStream takes them; reports/s."""
    options = SimulationOptions(drones=DRONES, rate=0, count=count, seed=SEED, start=start)
    began = time.perf_counter()
    summary = await run_simulation(stack.endpoints.publisher_url, options)
    if summary.acknowledged != count:
        raise RuntimeError(f"preload: {summary.describe()}")
    return count / (time.perf_counter() - began)


def handled(port: int, role: Role) -> int | None:
    """Reports the process on metrics ``port`` has handled; ``None`` while it does not answer."""
    samples = scrape(port)
    if samples is None:
        return None
    name, labels = HANDLED[role]
    return int(sample_value(samples, name, labels) or 0)


def _server_pids(stack: Stack) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = {"nats": [], "weed": []}
    for node in stack.state.nodes:
        pids["nats" if node.kind == "nats" else "weed"].append(node.pid)
    return pids


def _archive_census(stack: Stack, prefix: str) -> tuple[int, int]:
    con = catalog.connect(stack.endpoints)
    try:
        files = f"s3://{stack.endpoints.s3_bucket}/{prefix}reports/*/*/*.parquet"
        row = con.execute(
            f"SELECT count(*), count(DISTINCT report_id) FROM read_parquet('{files}')"
        ).fetchone()
    finally:
        con.close()
    return (int(row[0]), int(row[1])) if row else (0, 0)


@contextlib.contextmanager
def _processes(
    stack: Stack, role: Role, count: int, durable: str, prefix: str, max_rows: int | None
) -> Iterator[list[tuple[int, int]]]:
    """``count`` processes of ``role`` on ``durable``: their (pid, metrics port)."""
    args = [role, f"--durable={durable}"]
    if role == "archiver":
        args += ["--kind=reports", f"--key-prefix={prefix}", "--max-age=1"]
        # An archiver pulls up to a batch's rows at once: one pull could take a small backlog.
        args += [f"--max-rows={max_rows}"] if max_rows else []
    else:
        args += ["--no-fast-path"]
    with contextlib.ExitStack() as stack_of:
        running = []
        for _ in range(count):
            port = free_port()
            proc = stack_of.enter_context(
                component(args, stack.data_dir, PEACELAND_METRICS_PORT=str(port))
            )
            running.append((proc.pid, port))
        yield running


async def measure(
    stack: Stack,
    role: Role,
    processes: int,
    reports: int,
    *,
    timeout: float = 600.0,
    max_rows: int | None = None,
) -> ScaleRun:
    """Start ``processes`` of ``role`` on a new durable over the ``reports`` in REPORTS and
    wait until the durable has acknowledged them all (archivers: and written them)."""
    tag = uuid.uuid4().hex[:8]
    durable, prefix = f"scale-{role}-{tag}", f"scale-{tag}/"
    nc: NatsClient = await connect(stack.endpoints.nats_url, "scale-watch")
    js = nc.jetstream()
    spec = ConsumerSpec(REPORTS_STREAM, durable)
    servers = _server_pids(stack)
    deadline = time.monotonic() + timeout
    try:
        await ensure_consumer(js, spec)
        until = datetime.now(UTC) + timedelta(seconds=timeout)
        await js.pause_consumer(REPORTS_STREAM, durable, until.strftime("%Y-%m-%dT%H:%M:%SZ"))
        with _processes(stack, role, processes, durable, prefix, max_rows) as running:
            while True:  # every process up and waiting on the paused durable
                await asyncio.sleep(POLL_S)
                info = await js.consumer_info(REPORTS_STREAM, durable)
                answering = all(handled(port, role) is not None for _, port in running)
                if answering and (info.num_waiting or 0) >= processes:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{processes} {role}(s) not waiting after {timeout:g} s")
            cpu0 = {pid: cpu_seconds(pid) for pid, _ in running}
            server_cpu0 = {k: sum(cpu_seconds(p) for p in v) for k, v in servers.items()}
            await js.resume_consumer(REPORTS_STREAM, durable)
            # Timed from the first delivery: a pull request waiting through the pause may only
            # be served once it expires and is sent again.
            began: float | None = None
            while True:
                await asyncio.sleep(POLL_S)
                lag = await consumer_lag(js, spec)
                counts = [handled(port, role) or 0 for _, port in running]
                if began is None and lag is not None and lag.pending < reports:
                    began = time.perf_counter() - POLL_S / 2
                if lag == (0, 0) and sum(counts) >= reports:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{processes} {role}(s): lag {lag} after {timeout:g} s")
            seconds = time.perf_counter() - (began or time.perf_counter())
            cpu = sum(cpu_seconds(pid) - cpu0[pid] for pid, _ in running)
            server_cpu = {
                k: sum(cpu_seconds(p) for p in v) - server_cpu0[k] for k, v in servers.items()
            }
        await js.delete_consumer(REPORTS_STREAM, durable)
    finally:
        await nc.close()
    rows = distinct = None
    if role == "archiver":
        rows, distinct = await asyncio.to_thread(_archive_census, stack, prefix)
    return ScaleRun(
        role=role,
        processes=processes,
        nodes=max(1, sum(1 for n in stack.state.nodes if n.kind == "nats")),
        reports=reports,
        seconds=round(seconds, 2),
        reports_per_s=round(reports / seconds),
        shares=tuple(counts),
        cpu_us_per_report=round(cpu / max(1, sum(counts)) * 1e6, 1),
        nats_cpu_us_per_report=round(server_cpu["nats"] / reports * 1e6, 1),
        weed_cpu_us_per_report=round(server_cpu["weed"] / reports * 1e6, 1),
        archived_rows=rows,
        archived_distinct=distinct,
    )


async def scale_out(
    stack: Stack,
    reports: int,
    counts: Sequence[int],
    roles: Sequence[Role],
    *,
    max_rows: int | None = None,
) -> list[ScaleRun]:
    """Every configuration of ``roles`` and ``counts`` over one backlog of ``reports``."""
    return [
        await measure(stack, role, processes, reports, max_rows=max_rows)
        for role in roles
        for processes in counts
    ]
