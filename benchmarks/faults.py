"""The fault-injection suite as a measurement: runs ``tests/faults`` with
``PEACELAND_FAULT_RESULTS`` set, gathers the per-case JSON into
``benchmarks/results/faults.json`` and prints the table quoted in ``docs/reliability.md``.

    .venv/bin/python -m benchmarks.faults                   # run, then print the table
    .venv/bin/python -m benchmarks.faults --table-only      # the table of the last run
    .venv/bin/python -m benchmarks.faults --cluster         # the 3-node cluster's cases
                                                            # (tests/cluster, cluster_faults.json)
    PEACELAND_FAULT_SEED=123 .venv/bin/python -m benchmarks.faults   # the same random choices
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "faults.json"
ORDER = (
    "sigkill-alerter",
    "sigkill-archiver",
    "sigkill-gateway",
    "sigkill-nats-server",
    "s3-outage-60s",
    "webhook-receiver-faults",
    "duplicate-reports",
)


CLUSTER_RESULTS = ROOT / "benchmarks" / "results" / "cluster_faults.json"
CLUSTER_SUITE = "tests/cluster/test_cluster_faults.py"
CLUSTER_ORDER = (
    "cluster-sigkill-reports-leader",
    "cluster-sigstop-nats-node",
    "cluster-sigkill-volume-server",
    "cluster-sigkill-raft-leader",
    "cluster-rolling-restart",
    "cluster-http-sse-reports-leader",
)
#: Per cluster case, its own recovery figures (seconds) in the table.
CLUSTER_RECOVERY = {
    "new_leader_s": "new REPORTS leader",
    "new_raft_leader_s": "new Raft leader",
    "up_caught_up_s": "`up` until current",
    "current_again_s": "current after SIGCONT",
    "up_s": "`up`",
}


def run_suite(
    extra: list[str], suite: str = "tests/faults", results: Path = RESULTS
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="peaceland-faults-") as folder:
        env = {**os.environ, "PEACELAND_FAULT_RESULTS": folder}
        command = [sys.executable, "-m", "pytest", suite, "-q", "-s", *extra]
        code = subprocess.call(command, cwd=ROOT, env=env)
        cases = {p.stem: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}
    result = {"exit_code": code, "cases": cases}
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def cluster_table(result: dict[str, Any]) -> str:
    rows = [
        "| case | published | losses | duplicates (view) | alerts (lost / doubled) "
        "| longest without alerts s | alert latency p99 s | recovery s |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    cases = result["cases"]
    order = CLUSTER_ORDER
    for name in sorted(cases, key=lambda n: order.index(n) if n in order else len(order)):
        c = cases[name]
        recovery = [f"{label} {c[key]}" for key, label in CLUSTER_RECOVERY.items() if key in c]
        if "restarts" in c:
            recovery += [f"{r['node']} {r['up_caught_up_s']}" for r in c["restarts"]]
        rows.append(
            f"| {name} | {c['published']:,} | {c['losses']} | {c['duplicates']} "
            f"| {c['alerts_expected']:,} ({c['alerts_lost']} / {c['alerts_duplicated']}) "
            f"| {c.get('longest_without_alerts_s', '—')} | {c.get('alert_latency_p99_s', '—')} "
            f"| {'; '.join(recovery)} |"
        )
    return "\n".join(rows)


def table(result: dict[str, Any]) -> str:
    rows = [
        "| case | published | losses | duplicates (view) | extra stored copies "
        "| alerts (lost / doubled) | recovery s |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    cases = result["cases"]
    for name in sorted(cases, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        c = cases[name]
        recovery = c.get("recovery_s")
        rows.append(
            f"| {name} | {c['published']:,} | {c['losses']} | {c['duplicates']} "
            f"| {c['extra_copies']} | {c['alerts_expected']:,} ({c['alerts_lost']} / "
            f"{c['alerts_duplicated']}) | {'' if recovery is None else recovery} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--table-only", action="store_true", help="print the last run's table")
    parser.add_argument("--cluster", action="store_true", help="the 3-node cluster's cases")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest, e.g. -k nats")
    args = parser.parse_args()
    results, suite = (CLUSTER_RESULTS, CLUSTER_SUITE) if args.cluster else (RESULTS, "tests/faults")
    if args.table_only:
        result = json.loads(results.read_text())
    else:
        result = run_suite(args.pytest_args, suite, results)
    print(cluster_table(result) if args.cluster else table(result))
    return int(result["exit_code"])


if __name__ == "__main__":
    sys.exit(main())
