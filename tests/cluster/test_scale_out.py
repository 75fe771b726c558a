"""Consumers scaled out on the 3-node cluster: 1, 2 and 4 alerters, then archivers, sharing one
durable over a backlog; every process gets a share, none of the backlog is lost or handled
twice. The benchmark (``benchmarks/cluster.py``) is the same run, bigger."""

from __future__ import annotations

import pytest

from peaceland.testing import Stack
from peaceland.testing.scale_out import preload, scale_out

pytestmark = pytest.mark.slow

REPORTS = 4000


async def test_alerters_and_archivers_share_the_backlog_without_loss_or_double(
    cluster: Stack,
) -> None:
    await preload(cluster, REPORTS)
    # Archivers flush every 1,000 rows, so that each pull takes at most a quarter of the
    # backlog and every waiting process gets some, however the machine schedules them.
    runs = await scale_out(cluster, REPORTS, (1, 2, 4), ("alerter", "archiver"), max_rows=1000)
    for run in runs:
        print(run)
        assert run.nodes == 3
        assert len(run.shares) == run.processes
        assert all(share > 0 for share in run.shares), run  # each process got work
        # Every report handled, at most a handful of redeliveries (an ack lost on the way).
        assert REPORTS <= sum(run.shares) <= REPORTS * 1.01, run
        assert run.cpu_us_per_report > 0
        if run.role == "archiver":
            assert run.archived_distinct == REPORTS, run  # none lost
            assert run.archived_rows == REPORTS, run  # none written twice
