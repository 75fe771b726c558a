"""End-to-end throughput: a REPORTS backlog through the alerter and the archiver, in one run.

    .venv/bin/python -m benchmarks.throughput [--reports 200000] [--backlog 1000000]
                                              [--max-age S]

Against one private embedded stack (JetStream on file storage, SeaweedFS S3):

1. preload ``--reports`` simulated reports into REPORTS (``archive_throughput.preload``);
2. reference: a separate durable that only fetches and acknowledges them
   (``archive_throughput.bare_pull_source``, the project's fast fetcher);
3. end to end: ``peaceland alerter`` and ``peaceland archiver`` started together, each in its
   own process with default settings (``--max-age``: the archiver's flush age) and the
   contract's durables; timed from their first delivery until both durables have nothing
   pending nor unacknowledged **and** the archive answers the full count:
   ``SELECT count(*) FROM reports`` through ``peaceland.analytics.connect`` (DuckDB over S3,
   the deduplicated view);
4. (b) storage: bytes of the ``reports/`` objects per report, against the reports' JSON;
5. (c) with ``--backlog N``: more reports preloaded until REPORTS holds N, then one archiver
   drains them all under a fresh durable (``archive_throughput.archiver_run``), its peak RSS
   read from ``/proc``.

Results go to ``benchmarks/results/throughput.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from datetime import timedelta
from importlib.metadata import version
from typing import Any

from benchmarks.archive_throughput import (
    START,
    archiver_run,
    bare_pull_source,
    preload,
    proc_stats,
)
from benchmarks.common import markdown_table, private_stack, write_results
from peaceland.alerting.alerter import DURABLE as ALERTER
from peaceland.analytics import connect
from peaceland.archive.archiver import consumer_spec
from peaceland.archive.layout import kind_prefix
from peaceland.config import Endpoints, Settings
from peaceland.contract import ALERTS_STREAM, REPORTS_STREAM
from peaceland.storage import S3Store
from peaceland.stream import ConsumerSpec, consumer_lag
from peaceland.stream import connect as nats_connect
from peaceland.testing import component, machine

POLL_S = 0.05


def archive_count(endpoints: Endpoints) -> int:
    """Reports in the ``reports`` view, as an officer's query sees them."""
    con = connect(endpoints)
    try:
        row = con.sql("SELECT count(*) FROM reports").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


async def end_to_end(
    settings: Settings, endpoints: Endpoints, count: int, env: dict[str, str]
) -> dict[str, Any]:
    """Alerter and archiver (``env`` added to theirs) from launch until caught up and the
    archive counts ``count``."""
    nc = await nats_connect(endpoints.nats_url, "bench-watch")
    js = nc.jetstream()
    specs = {
        "alerter": ConsumerSpec(REPORTS_STREAM, ALERTER),
        "archiver": consumer_spec("reports"),
    }
    try:
        with contextlib.ExitStack() as procs:
            launched = time.perf_counter()
            pids = {
                name: procs.enter_context(component([name], settings.data_dir, **env)).pid
                for name in specs
            }
            started: float | None = None
            caught_up: dict[str, float] = {}
            answered: float | None = None
            queries = 0
            while answered is None:
                await asyncio.sleep(POLL_S)
                now = time.perf_counter()
                for name, spec in specs.items():
                    lag = await consumer_lag(js, spec)
                    if started is None and lag is not None and lag[0] < count:
                        started = now  # the first delivery, to either
                    if lag == (0, 0):
                        caught_up.setdefault(name, now)
                    else:
                        caught_up.pop(name, None)
                if len(caught_up) == len(specs):
                    queries += 1
                    if await asyncio.to_thread(archive_count, endpoints) >= count:
                        answered = time.perf_counter()
            usage = {name: proc_stats(pid) for name, pid in pids.items()}
        alerts = (await js.stream_info(ALERTS_STREAM)).state.messages
    finally:
        await nc.close()
    begin = started or launched
    return {
        "reports_per_s": round(count / (answered - begin)),
        "seconds": round(answered - begin, 2),
        "seconds_from_launch": round(answered - launched, 2),
        "alerter_caught_up_s": round(caught_up["alerter"] - begin, 2),
        "archiver_caught_up_s": round(caught_up["archiver"] - begin, 2),
        "count_queries": queries,
        "alerts_raised": alerts,
        **{
            f"{name}_cpu_us_per_report": round(cpu / count * 1e6, 1)
            for name, (cpu, _) in usage.items()
        },
        **{f"{name}_peak_rss_mb": round(rss, 1) for name, (_, rss) in usage.items()},
    }


async def stored_bytes(endpoints: Endpoints) -> int:
    store = S3Store.connect(endpoints)
    try:
        return sum(o.size for o in await store.list(kind_prefix("reports")))
    finally:
        store.close()


async def run(
    settings: Settings, endpoints: Endpoints, count: int, backlog: int, env: dict[str, str]
) -> dict[str, Any]:
    preload_s, json_bytes = await preload(endpoints.nats_url, count)
    bare = await bare_pull_source(endpoints.nats_url, count)
    e2e = await end_to_end(settings, endpoints, count, env)
    stored = await stored_bytes(endpoints)
    results: dict[str, Any] = {
        "reports": count,
        "component_env": env,
        "preload_reports_per_s": round(count / preload_s),
        "bare_pull_source_reports_per_s": round(bare),
        "end_to_end": e2e,
        "ratio_to_bare_pull_source": round(e2e["reports_per_s"] / bare, 2),
        "json_bytes_per_report": round(json_bytes / count, 1),
        "stored_bytes_per_report": round(stored / count, 1),
        "compression_ratio": round(json_bytes / stored, 1),
    }
    if backlog > count:
        await preload(endpoints.nats_url, backlog - count, START + timedelta(days=30))
        results["backlog"] = {
            "reports": backlog,
            **await archiver_run(settings, endpoints, backlog),
        }
    return results


def table(results: dict[str, Any]) -> str:
    e = results["end_to_end"]
    rows = [
        (
            "**end to end: alerter + archiver caught up, `count(*)` answered**",
            f"**{e['reports_per_s']:,} reports/s** ({e['seconds']} s)",
        ),
        ("… alerter caught up after", f"{e['alerter_caught_up_s']} s"),
        ("… archiver caught up after", f"{e['archiver_caught_up_s']} s"),
        ("… from process launch (imports, connects)", f"{e['seconds_from_launch']} s"),
        (
            "bare fetch + ack (PullConsumer), same messages",
            f"{results['bare_pull_source_reports_per_s']:,}/s",
        ),
        ("end to end / bare", f"{results['ratio_to_bare_pull_source']:.2f}"),
        ("alerter CPU per report", f"{e['alerter_cpu_us_per_report']} µs"),
        ("archiver CPU per report", f"{e['archiver_cpu_us_per_report']} µs"),
        (
            "alerter / archiver peak RSS",
            f"{e['alerter_peak_rss_mb']} / {e['archiver_peak_rss_mb']} MB",
        ),
        ("alerts raised", f"{e['alerts_raised']:,}"),
        ("JSON per report", f"{results['json_bytes_per_report']} B"),
        ("**stored per report (Parquet, zstd)**", f"**{results['stored_bytes_per_report']} B**"),
    ]
    if "backlog" in results:
        b = results["backlog"]
        rows += [
            (
                f"archiver alone, {b['reports']:,}-report backlog",
                f"{b['reports_per_s']:,} reports/s",
            ),
            ("**archiver peak RSS, that backlog**", f"**{b['peak_rss_mb']} MB**"),
        ]
    return markdown_table(f"{results['reports']:,} reports preloaded", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200_000)
    parser.add_argument(
        "--backlog", type=int, default=1_000_000, help="for the RSS figure; 0 to skip"
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=None,
        help="PEACELAND_ARCHIVE_MAX_AGE of the archiver [its default, 10 s]",
    )
    args = parser.parse_args()
    env = {} if args.max_age is None else {"PEACELAND_ARCHIVE_MAX_AGE": str(args.max_age)}
    info = machine()
    info["versions"].update({name: version(name) for name in ("pyarrow", "boto3", "duckdb")})
    with private_stack() as (settings, endpoints):
        results = asyncio.run(run(settings, endpoints, args.reports, args.backlog, env))
    print(table(results))
    print(f"\nresults: {write_results('throughput', info, results)}")


if __name__ == "__main__":
    main()
