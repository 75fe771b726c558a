"""The fault-injection suite as a measurement: runs ``tests/faults`` with
``PEACELAND_FAULT_RESULTS`` set, gathers the per-case JSON into
``benchmarks/results/faults.json`` and prints the table quoted in ``docs/reliability.md``.

    .venv/bin/python -m benchmarks.faults                   # run, then print the table
    .venv/bin/python -m benchmarks.faults --table-only      # the table of the last run
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


def run_suite(extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="peaceland-faults-") as folder:
        env = {**os.environ, "PEACELAND_FAULT_RESULTS": folder}
        command = [sys.executable, "-m", "pytest", "tests/faults", "-q", "-s", *extra]
        code = subprocess.call(command, cwd=ROOT, env=env)
        cases = {p.stem: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}
    result = {"exit_code": code, "cases": cases}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


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
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest, e.g. -k nats")
    args = parser.parse_args()
    last = args.table_only
    result = json.loads(RESULTS.read_text()) if last else run_suite(args.pytest_args)
    print(table(result))
    return int(result["exit_code"])


if __name__ == "__main__":
    sys.exit(main())
