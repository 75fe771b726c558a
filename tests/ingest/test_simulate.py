"""``peaceland simulate`` against real servers: reports land in REPORTS, exactly once each."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext

from peaceland.contract import MSG_ID_HEADER, REPORTS_STREAM, decode_report
from peaceland.ingest import SimulationOptions
from peaceland.ingest.simulator import SimulationSummary, run_simulation

pytestmark = pytest.mark.slow


def unique_prefix() -> str:
    return "sim" + uuid.uuid4().hex[:10]


async def prefix_count(js: JetStreamContext, prefix: str) -> int:
    """Messages from drones ``<prefix>-NNNN`` (a wildcard cannot match part of a token)."""
    info = await js.stream_info(REPORTS_STREAM, subjects_filter="peaceland.reports.>")
    subjects = info.state.subjects or {}
    return sum(n for s, n in subjects.items() if s.startswith(f"peaceland.reports.{prefix}-"))


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peaceland", "simulate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def clean_env(**peaceland: str) -> dict[str, str]:
    """The test's environment without any PEACELAND_* setting, plus ``peaceland``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
    return env | peaceland


async def test_cli_count_lands_exactly_that_many_reports(stack: Any) -> None:
    prefix = unique_prefix()
    result = await asyncio.to_thread(
        run_cli,
        *("--drones", "20", "--rate", "0", "--count", "500", "--seed", "5"),
        *("--bad-rate", "0.1", "--prefix", prefix),
        env=stack.env(),  # finds the servers through the data dir, as users do
    )
    assert result.returncode == 0, result.stderr
    assert "sent          500 reports from 20 drones" in result.stdout
    assert "acknowledged  500 (0 duplicates dropped)" in result.stdout
    assert "errors        0" in result.stdout
    assert "count reached" in result.stdout

    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        assert await prefix_count(js, prefix) == 500
        msg = await js.get_last_msg(REPORTS_STREAM, f"peaceland.reports.{prefix}-0001")
        report = decode_report(msg.data or b"")
        assert report.drone_id == f"{prefix}-0001"
        assert msg.headers is not None
        assert msg.headers[MSG_ID_HEADER] == report.report_id
    finally:
        await nc.close()


async def test_rerun_with_same_seed_and_start_is_deduplicated(stack: Any) -> None:
    prefix = unique_prefix()
    options = SimulationOptions(
        drones=10, rate=0, count=300, seed=11, prefix=prefix, start=datetime.now(UTC)
    )
    first = await run_simulation(stack.endpoints.nats_url, options)
    again = await run_simulation(stack.endpoints.nats_url, options)
    assert (first.sent, first.acknowledged, first.duplicates, first.errors) == (300, 300, 0, 0)
    assert (again.sent, again.acknowledged, again.duplicates, again.errors) == (300, 300, 300, 0)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        assert await prefix_count(nc.jetstream(), prefix) == 300
    finally:
        await nc.close()


async def test_stop_ends_cleanly_with_every_report_accounted_for(stack: Any) -> None:
    prefix = unique_prefix()
    stop = asyncio.Event()
    seen: list[SimulationSummary] = []

    def progress(summary: SimulationSummary) -> None:
        seen.append(summary)
        if summary.sent >= 300:
            stop.set()

    options = SimulationOptions(drones=50, rate=1000, speed=1e6, prefix=prefix)
    summary = await run_simulation(stack.endpoints.nats_url, options, progress, stop=stop)
    assert seen
    assert all(s.stopped is None for s in seen)
    assert summary.stopped == "interrupted"
    assert summary.sent >= 300
    assert summary.errors == 0
    assert summary.acknowledged == summary.sent
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        assert await prefix_count(nc.jetstream(), prefix) == summary.sent
    finally:
        await nc.close()


async def test_pacing_by_simulated_time_and_by_rate(stack: Any) -> None:
    # speed 60: one simulated minute per wall second, so each of the 30 drones reports once.
    paced = await run_simulation(
        stack.endpoints.nats_url,
        SimulationOptions(drones=30, duration=1.0, speed=60, prefix=unique_prefix()),
    )
    assert paced.stopped == "duration reached"
    assert 10 <= paced.sent <= 30
    assert paced.duration_s >= 1.0
    # The rate cap holds even when simulated time would allow far more.
    capped = await run_simulation(
        stack.endpoints.nats_url,
        SimulationOptions(drones=30, rate=200, count=100, speed=1e6, prefix=unique_prefix()),
    )
    assert capped.acknowledged == 100
    assert capped.duration_s >= 0.45


def test_no_servers_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    for env in (
        clean_env(PEACELAND_NATS_URL=f"nats://u:secret@127.0.0.1:{port}"),
        clean_env(PEACELAND_DATA_DIR=str(tmp_path / "nothing-here")),
    ):
        result = run_cli("--drones", "3", "--count", "3", env=env)
        assert result.returncode != 0
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        assert "secret" not in lines[0]
