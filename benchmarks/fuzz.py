"""Fuzzing the ingest paths end to end: every payload accounted for, nothing stalls.

    .venv/bin/python -m benchmarks.fuzz --payloads 100000 [--seed 1] [--nats-share 0.5]

Generates payloads of every sort — valid reports (boundary values included), subtly invalid
ones (one rule broken at its boundary), wrong types, bad UTF-8, garbage, huge payloads, deep
nesting, and valid reports sent on another drone's subject — and sends them, against a
private embedded stack with a real gateway, alerter and archiver (each its own process):

* through ``POST /api/v1/reports``: JSON-array bodies mixing good and bad items (batches), and
  the payloads that cannot be an array item (garbage, too deep, too large) as bodies of their
  own; every answer is checked item by item against what was sent;
* straight onto NATS, one publish per payload on ``peaceland.reports.<drone_id>``, as drones
  do (with the fleet's credentials when the servers require them), each acknowledged by
  JetStream.

Throughout, ``/healthz`` is probed; afterwards both consumers must have drained REPORTS and
every payload must be accounted for: each valid report stored in REPORTS and archived exactly
once (the ``reports`` view), each invalid one dead-lettered untouched with a reason — by the
gateway for HTTP items, by the alerter and the archiver for what was published on NATS.

``peaceland.testing.run_fuzz`` is what the test calls too; ``main`` runs it on a private
stack and writes ``benchmarks/results/fuzz.json``. The summary lists any problem found in
``problems``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from benchmarks.common import private_stack, write_results
from peaceland.access import Role
from peaceland.testing import machine, new_token, run_fuzz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--payloads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nats-share", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--token", default=None, help="Bearer token for the HTTP API, if any.")
    args = parser.parse_args(argv)
    info = machine()
    with private_stack() as (settings, endpoints):
        token = args.token or asyncio.run(new_token(endpoints.nats_url, Role.DRONE, "fuzz"))
        summary = asyncio.run(
            run_fuzz(
                settings.data_dir,
                endpoints,
                args.payloads,
                token=token,
                seed=args.seed,
                nats_share=args.nats_share,
                batch=args.batch,
                concurrency=args.concurrency,
            )
        )
    path = write_results("fuzz", info, summary)
    print(json.dumps(summary, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
