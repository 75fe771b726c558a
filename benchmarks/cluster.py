"""Consumers scaled out on a cluster, against one node: 1, 2 and 4 alerters, then archivers,
sharing one durable over a preloaded REPORTS backlog (``peaceland.testing.scale_out``).

    .venv/bin/python -m benchmarks.cluster [--reports 50000] [--processes 1,2,4] [--nodes 1,3]

For each size (a private stack started by ``up --nodes N``) and each configuration: the rate
from the first delivery until the durable has acknowledged everything (archivers: and written
it), the CPU per report of the consumers and of the servers over that window, and each
process's share. On a 2-core machine more processes cannot add throughput: the figures that
carry over to bigger machines are the CPU costs per report and the ratios to one node.
Results: ``benchmarks/results/cluster.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import write_results
from benchmarks.ingest import gateway as post_reports
from benchmarks.ingest import wait_healthy
from peaceland.access import Role
from peaceland.contract import REPORTS_STREAM
from peaceland.servers import free_port
from peaceland.stream import connect
from peaceland.testing import Stack, api_headers, component, machine, running_stack
from peaceland.testing.scale_out import ScaleRun, cpu_seconds, preload, scale_out


async def one_size(nodes: int, reports: int, counts: list[int]) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="peaceland-cluster-bench-") as tmp,
        running_stack(Path(tmp) / "data", 5.0, nodes=nodes) as stack,
    ):
        before = server_cpu(stack)
        rate = await preload(stack, reports)
        ingest_cpu = {k: v - before[k] for k, v in server_cpu(stack).items()}
        stream = await stream_bytes(stack)
        runs = await scale_out(stack, reports, counts, ("alerter", "archiver"))
        disk = disk_bytes(stack.data_dir)
        # Last: its reports would add to the backlog the runs drain.
        gateway = await gateway_ingest(stack, reports)
    archived = reports * sum(1 for r in runs if r.role == "archiver")
    return {
        "nodes": nodes,
        "preload_reports_per_s": round(rate),
        "stream_bytes_per_report": round(stream / reports, 1),
        # Servers' CPU while the simulator publishes the backlog (each report stored, acked).
        "ingest_nats_cpu_us_per_report": round(ingest_cpu["nats"] / reports * 1e6, 1),
        "gateway": gateway,
        # Every replica's store, over the reports in REPORTS.
        "nats_disk_bytes_per_report": round(disk["nats"] / reports, 1),
        # Every copy on every volume server, over the rows the archivers wrote.
        "weed_disk_bytes_per_archived_report": round(disk["weed"] / archived, 1),
        "runs": runs,
    }


def server_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of the NATS nodes and of the SeaweedFS processes."""
    totals = {"nats": 0.0, "weed": 0.0}
    for node in stack.state.nodes:
        totals["nats" if node.kind == "nats" else "weed"] += cpu_seconds(node.pid)
    return totals


async def gateway_ingest(stack: Stack, reports: int) -> dict[str, float]:
    """``reports`` posted to one ``peaceland gateway`` in batches of 500 (4 at a time): its
    rate, and the CPU per report of the gateway and of the NATS nodes meanwhile."""
    port = free_port()
    with component(["gateway", "--port", str(port)], stack.data_dir) as proc:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url)
        headers = await api_headers(stack.endpoints.nats_url, Role.DRONE)
        gateway0, servers0 = cpu_seconds(proc.pid), server_cpu(stack)
        rate = await post_reports(url, headers, reports, 500, 4)
        gateway_cpu = cpu_seconds(proc.pid) - gateway0
        nats_cpu = server_cpu(stack)["nats"] - servers0["nats"]
    return {
        "reports_per_s": round(rate),
        "gateway_cpu_us_per_report": round(gateway_cpu / reports * 1e6, 1),
        "nats_cpu_us_per_report": round(nats_cpu / reports * 1e6, 1),
    }


async def stream_bytes(stack: Stack) -> int:
    nc = await connect(stack.endpoints.nats_url, "bench-bytes")
    try:
        info = await nc.jetstream().stream_info(REPORTS_STREAM)
        return int(info.state.bytes)
    finally:
        await nc.close()


def disk_bytes(data_dir: Path) -> dict[str, int]:
    """Bytes under the NATS stores and the SeaweedFS volume directories."""
    sizes = {"nats": 0, "weed": 0}
    for folder in data_dir.iterdir():
        kind = "nats" if folder.name.startswith("nats") else "weed"
        if folder.name.startswith(("nats", "weed-volume")) or folder.name == "weed":
            sizes[kind] += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return sizes


def table(sizes: list[dict[str, Any]]) -> str:
    base = {(r.role, r.processes): r for s in sizes if s["nodes"] == 1 for r in s["runs"]}
    lines = [
        "| nodes | component, processes | reports/s | vs 1 node | CPU µs/report "
        "(consumers) | nats-server µs/report | weed µs/report | shares |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for size in sizes:
        run: ScaleRun
        for run in size["runs"]:
            one = base.get((run.role, run.processes))
            ratio = f"{run.reports_per_s / one.reports_per_s:.2f}" if one else "—"
            lines.append(
                f"| {size['nodes']} | {run.role} {run.processes} | {run.reports_per_s:,.0f} "
                f"| {ratio} | {run.cpu_us_per_report:.0f} | {run.nats_cpu_us_per_report:.0f} "
                f"| {run.weed_cpu_us_per_report:.0f} | {' / '.join(map(str, run.shares))} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=50_000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--nodes", default="1,3")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    info = machine()
    sizes = [
        asyncio.run(one_size(int(nodes), args.reports, counts)) for nodes in args.nodes.split(",")
    ]
    encoded = [
        {**size, "runs": [dataclasses.asdict(run) for run in size["runs"]]} for size in sizes
    ]
    path = write_results("cluster", info, {"reports": args.reports, "sizes": encoded})
    print(table(sizes))
    for size in sizes:
        extra = {k: v for k, v in size.items() if k not in ("runs", "nodes")}
        print(f"{size['nodes']} node(s): {extra}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
