"""The statistics battery over a large archive: time per stat, against bare DuckDB.

    .venv/bin/python -m benchmarks.analytics [--reports 10000000] [--days 7] [--runs 3]

1. A private embedded stack (SeaweedFS S3); ``--reports`` synthetic reports over ``--days``
   days, one report a minute per drone (``benchmarks.analytics_data``), written in the archive
   layout by the archiver's own Parquet writer: one reports and one alerts object per hour.
2. For each built-in statistic, the median of ``--runs`` runs of:
   * **run_stat**: ``peaceland stats NAME`` minus the process: connect (load httpfs, secret,
     list the partitions, define the views) and query, cold each time;
   * **locked**: the same as ``GET /api/v1/stats/NAME`` runs it: ``run_stat(locked=True)``,
     a locked-down connection with 1 GB of memory, then spilling to disk;
   * **catalog**: the stat's query on one ``peaceland.analytics.connect()`` connection;
   * **bare**: the same SQL on a DuckDB connection whose views are plain ``read_parquet`` of
     the same files, without dedup or pruning (the floor the catalog's work sits on);
   * **one day**: ``run_stat`` with ``--since/--until`` covering one of the days.
   Both catalog and bare connections are reused across runs, so DuckDB's cache of remote
   file data is warm for both after the first run. Results are checked equal.

Results go to ``benchmarks/results/analytics.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from importlib.metadata import version
from typing import Any

import duckdb

from benchmarks.analytics_data import START, Fleet, encode_hour, hours
from benchmarks.common import median, private_stack, write_results
from peaceland.analytics import STATS, TimeRange, archive_from, connect, run_stat
from peaceland.analytics.catalog import httpfs_path, secret_sql
from peaceland.analytics.stats import stat_params
from peaceland.analytics.views import ALERT_COLUMNS, REPORT_COLUMNS, SIGHTINGS_SQL
from peaceland.config import Endpoints
from peaceland.storage import S3Store
from peaceland.testing import machine


async def upload(endpoints: Endpoints, total: int, days: int, drones: int) -> dict[str, Any]:
    """Build and write the archive, one hour at a time; the next hour is encoded (in a worker
    thread) while the previous one is being written."""
    fleet = Fleet(drones)
    store = S3Store.connect(endpoints)
    began = time.perf_counter()
    counts: dict[str, float] = {
        "reports": 0,
        "alerts": 0,
        "objects": 0,
        "bytes": 0,
        "report_bytes": 0,
    }
    seq = 1
    pending: asyncio.Task[None] | None = None
    try:
        for hour, rows in hours(total, days):
            built = await asyncio.to_thread(encode_hour, fleet, hour, rows, seq)
            seq += rows
            if pending is not None:
                await pending

            async def put(objects: list[tuple[str, bytes]] = built.objects) -> None:
                for key, data in objects:
                    await store.put(key, data)

            pending = asyncio.create_task(put())
            counts["reports"] += built.reports
            counts["alerts"] += built.alerts
            counts["objects"] += len(built.objects)
            counts["bytes"] += sum(len(data) for _, data in built.objects)
            counts["report_bytes"] += sum(
                len(data) for key, data in built.objects if key.startswith("reports/")
            )
        if pending is not None:
            await pending
    finally:
        store.close()
    counts["seconds"] = round(time.perf_counter() - began, 1)
    return counts


def bare_connection(endpoints: Endpoints) -> duckdb.DuckDBPyConnection:
    """Plain DuckDB over the same files: httpfs, the secret, views without dedup or pruning."""
    con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
    con.execute(f"LOAD '{httpfs_path()}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(secret_sql(endpoints))
    root = f"s3://{endpoints.s3_bucket}/"
    for view, columns in (("reports", REPORT_COLUMNS), ("alerts", ALERT_COLUMNS)):
        con.execute(
            f"CREATE VIEW {view} AS SELECT {', '.join(columns)} "
            f"FROM read_parquet('{root}{view}/*/*/*.parquet')"
        )
    con.execute(f"CREATE VIEW sightings AS {SIGHTINGS_SQL}")
    return con


def timed(run: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median seconds of ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return median(times), result


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[Any]:
    return con.execute(sql, params).fetchall()


def battery(endpoints: Endpoints, runs: int, day: TimeRange) -> dict[str, Any]:
    archive = archive_from(endpoints)
    connect_s, catalog = timed(partial(connect, archive), 1)
    bare = bare_connection(endpoints)
    stats: dict[str, Any] = {}
    try:
        for name, stat in STATS.items():
            params = stat_params(stat)
            entry: dict[str, Any] = {}
            entry["run_stat_s"], _ = timed(partial(run_stat, archive, name), runs)
            # As GET /api/v1/stats runs it: locked down, 1 GB of memory, then spilling.
            entry["locked_s"], _ = timed(partial(run_stat, archive, name, locked=True), runs)
            entry["catalog_s"], ours = timed(partial(fetch, catalog, stat.sql, params), runs)
            entry["bare_s"], theirs = timed(partial(fetch, bare, stat.sql, params), runs)
            entry["one_day_s"], _ = timed(partial(run_stat, archive, name, day), runs)
            entry["rows"] = len(ours)
            entry["same_result"] = _same(ours, theirs)
            entry["catalog_vs_bare"] = round(entry["catalog_s"] / entry["bare_s"], 2)
            stats[name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in entry.items()}
            print(f"  {name}: {stats[name]}", flush=True)
    finally:
        catalog.close()
        bare.close()
    return {"connect_s": round(connect_s, 3), "stats": stats}


def _same(ours: list[Any], theirs: list[Any]) -> bool:
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


def table(results: dict[str, Any]) -> str:
    data = results["archive"]
    lines = [
        f"{data['reports']:,} reports ({data['alerts']:,} alerts) over {results['days']} days "
        f"in {data['objects']} objects, {data['bytes'] / 1e6:,.0f} MB; connect "
        f"{results['connect_s'] * 1000:.0f} ms. Median of {results['runs']} runs, seconds:",
        "",
        "| statistic | run_stat (cold, connect included) | locked (HTTP) | catalog query | "
        "bare DuckDB | catalog / bare | one day via --since/--until | rows | same result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, s in results["stats"].items():
        lines.append(
            f"| `{name}` | {s['run_stat_s']:.2f} | {s['locked_s']:.2f} | {s['catalog_s']:.2f} | "
            f"{s['bare_s']:.2f} | "
            f"{s['catalog_vs_bare']:.2f}x | {s['one_day_s']:.2f} | {s['rows']} | "
            f"{'yes' if s['same_result'] else 'NO'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    drones = max(1, math.ceil(args.reports / (args.days * 24 * 60)))
    info = machine()
    info["versions"].update({name: version(name) for name in ("duckdb", "pyarrow", "numpy")})
    third = START + timedelta(days=min(2, args.days - 1))
    with private_stack() as (_settings, endpoints):
        print(f"writing {args.reports:,} reports from {drones} drones...", flush=True)
        archive = asyncio.run(upload(endpoints, args.reports, args.days, drones))
        print(f"  {archive}", flush=True)
        print("running the statistics...", flush=True)
        measured = battery(endpoints, args.runs, TimeRange(third, third + timedelta(days=1)))
    results = {
        "days": args.days,
        "drones": drones,
        "runs": args.runs,
        "archive": archive,
        **measured,
    }
    path = write_results("analytics", info, results)
    print(table(results))
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
