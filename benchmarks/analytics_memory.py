"""Which statistics fit the HTTP routes' memory limit, with and without spilling to disk.

    .venv/bin/python -m benchmarks.analytics_memory [--reports 10000000] [--days 7]

The data set of ``benchmarks.analytics``; each built-in statistic runs once on a locked-down
connection as ``GET /api/v1/stats/NAME`` runs it (``Confinement()``: 1 GB, then spilling),
and once with the same memory limit and no spilling (``spill_limit=None``). Results go to
``benchmarks/results/analytics_memory.json``; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

from benchmarks.analytics import upload
from benchmarks.common import private_stack, write_results
from peaceland.analytics import STATS, Archive, Confinement, archive_from, run_stat
from peaceland.contract import PeacelandError
from peaceland.testing import machine

CONFINEMENTS = {"spilling": Confinement(), "no_spill": Confinement(spill_limit=None)}


def attempt(archive: Archive, name: str, confinement: Confinement) -> dict[str, Any]:
    """Seconds, and the error when it failed (its first line)."""
    began = time.perf_counter()
    try:
        run_stat(archive, name, locked=confinement)
        error = None
    except PeacelandError as exc:
        error = str(exc).split(" (")[0][:120]
    return {"seconds": round(time.perf_counter() - began, 3), "error": error}


def table(results: dict[str, Any]) -> str:
    lines = [
        "| statistic | 1 GB, then spilling | 1 GB, no spilling |",
        "|---|---|---|",
    ]
    for name, runs in results["stats"].items():
        cells = [
            f"{r['seconds']:.2f} s" if r["error"] is None else f"failed after {r['seconds']:.1f} s"
            for r in (runs["spilling"], runs["no_spill"])
        ]
        lines.append(f"| `{name}` | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    drones = max(1, math.ceil(args.reports / (args.days * 24 * 60)))
    info = machine()
    with private_stack() as (_settings, endpoints):
        print(f"writing {args.reports:,} reports from {drones} drones...", flush=True)
        archive_info = asyncio.run(upload(endpoints, args.reports, args.days, drones))
        archive = archive_from(endpoints)
        stats: dict[str, Any] = {}
        for name in STATS:
            stats[name] = {k: attempt(archive, name, c) for k, c in CONFINEMENTS.items()}
            print(f"  {name}: {stats[name]}", flush=True)
    results = {"days": args.days, "drones": drones, "archive": archive_info, "stats": stats}
    path = write_results("analytics_memory", info, results)
    print(table(results))
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
