"""Node failures of a 3-node cluster under a steady load of drone reports, with the alerter
and the archiver running as real processes connected to every node.

Each case then checks that every report acknowledged to a drone is in the archive exactly
once and every expected alert exists exactly once (``fault_kit.check_everything``), and
records what it measured: reports, losses, duplicates, the longest time without an alert, the
alert latency (first publish by the drone to the alert's arrival) p99 during the fault, and
the case's own recovery times. ``PEACELAND_FAULT_RESULTS=<dir>`` keeps them as JSON
(docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fault_kit import (
    ARCHIVER_ARGS,
    Fleet,
    HttpFleet,
    Ledger,
    check_everything,
    drone_url,
    eventually,
    gateway_component,
    http_headers,
    monitor,
    record,
    settle_everything,
    wait_http_ready,
)

from peaceland.contract import ALERTS_PREFIX, REPORTS_STREAM
from peaceland.servers import services
from peaceland.stream import NatsClient
from peaceland.testing import Component, Stack, components
from peaceland.web.sse_client import sse_events

pytestmark = pytest.mark.slow

RATE = 100  # reports a second
STEADY_S = 3.0  # of load before and after the fault
#: A fault's own steps are bounded by this; a slow CI machine is ~5x this laptop.
STEP_TIMEOUT_S = 90.0


class AlertClock:
    """When each alert first arrives (a plain subscription to ALERTS' subjects: it also sees
    the copies JetStream drops as duplicates, such as the durable path's after the fast
    path's)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.arrivals: list[tuple[float, float]] = []  # (arrival, latency)
        self.seen: set[str] = set()

    async def start(self, nc: NatsClient) -> None:
        async def on_alert(msg: Any) -> None:
            alert = json.loads(msg.data)
            now = time.monotonic()
            sent = self.fleet.sent_at.get(alert["report_id"])
            if sent is not None and alert["alert_id"] not in self.seen:
                self.seen.add(alert["alert_id"])
                self.arrivals.append((now, now - sent))

        await nc.subscribe(ALERTS_PREFIX + ">", cb=on_alert)

    def longest_gap(self, since: float, until: float) -> float:
        times = [since, *sorted(t for t, _ in self.arrivals if since <= t <= until), until]
        return max(b - a for a, b in itertools.pairwise(times))

    def p99_latency(self, since: float, until: float) -> float:
        latencies = sorted(lat for t, lat in self.arrivals if since <= t <= until)
        if len(latencies) < 2:
            return latencies[0] if latencies else float("nan")
        return statistics.quantiles(latencies, n=100)[98]


async def reports_leader(nc: NatsClient) -> str:
    info = await nc.jetstream().stream_info(REPORTS_STREAM)
    assert info.cluster is not None
    assert info.cluster.leader is not None
    return info.cluster.leader


async def new_leader_after(nc: NatsClient, old: str) -> float:
    """Seconds until REPORTS has a leader other than ``old``."""

    async def elected() -> bool:
        info = await nc.jetstream().stream_info(REPORTS_STREAM)
        leader = info.cluster.leader if info.cluster else None
        return leader is not None and leader != old

    return await eventually(elected, STEP_TIMEOUT_S, f"a REPORTS leader other than {old}")


async def up_again(stack: Stack) -> tuple[float, tuple[str, ...]]:
    """``peaceland up``: restarts what died and waits until it caught up; seconds, restarted."""
    began = time.monotonic()
    report = await asyncio.to_thread(
        services.start_services, stack.settings, prefer_default_ports=False
    )
    return time.monotonic() - began, report.started


def node_with_role(stack: Stack, role: str) -> str | None:
    """The node ``peaceland status`` gives ``role``; ``None`` during an election."""
    rows = [row.name for row in services.status(stack.settings) if role in row.role]
    return rows[0] if rows else None


def log_tail(text: str, lines: int = 60) -> str:
    """The end of a component's log, without the publish retries that fill it in a failover."""
    kept = [line for line in text.splitlines() if "duplicate message id is in process" not in line]
    return "\n".join(kept[-lines:])


Fault = Callable[[Stack, NatsClient], Awaitable[dict[str, Any]]]


async def run_case(cluster: Stack, tmp_path: Path, case: str, fault: Fault) -> dict[str, Any]:
    alerter = Component(cluster, ("alerter",), tmp_path / "alerter.log")
    archiver = Component(cluster, ARCHIVER_ARGS, tmp_path / "archiver.log")
    stop = asyncio.Event()
    async with components(alerter, archiver), monitor(cluster) as nc:
        fleet = Fleet(drone_url(cluster), rate=RATE)
        clock = AlertClock(fleet)
        await clock.start(nc)
        load = asyncio.create_task(fleet.run(stop))
        try:
            await asyncio.sleep(STEADY_S)  # load before the fault, not a wait for a condition
            fault_began = time.monotonic()
            measured = await fault(cluster, nc)
            fault_ended = time.monotonic()
            await asyncio.sleep(STEADY_S)
        finally:
            stop.set()
            ledger: Ledger = await asyncio.wait_for(load, STEP_TIMEOUT_S)
        try:
            settle_s = await settle_everything(cluster, nc, ledger, ["alerter", "archiver"], 180)
        except AssertionError as exc:
            logs = "\n".join(f"-- {c.name}:\n{log_tail(c.output())}" for c in (alerter, archiver))
            raise AssertionError(f"{exc}\n{logs}") from None
        verdict = await check_everything(cluster, nc, ledger)
        for component in (alerter, archiver):
            assert component.pid is not None, f"{component.name} died:\n{component.output()}"
    result = {
        **verdict.as_dict(),
        "nodes": 3,
        "rate_per_s": RATE,
        "attempts": ledger.attempts,
        "retried": ledger.failures,
        "duplicate_acks": ledger.duplicate_acks,
        "longest_without_alerts_s": round(clock.longest_gap(fault_began, fault_ended + 2), 2),
        "alert_latency_p99_s": round(clock.p99_latency(fault_began, fault_ended + 2), 3),
        "fault_s": round(fault_ended - fault_began, 2),
        "settle_after_load_s": round(settle_s, 2),
        **measured,
    }
    record(case, result)
    assert verdict.losses == verdict.duplicates == 0
    assert verdict.alerts_lost == verdict.alerts_duplicated == 0
    return result


async def sigkill_reports_leader(stack: Stack, nc: NatsClient) -> dict[str, Any]:
    leader = await reports_leader(nc)
    await asyncio.to_thread(stack.kill, leader)
    elected_s = await new_leader_after(nc, leader)
    await asyncio.sleep(STEADY_S)  # keep the load on the two survivors for a while
    up_s, restarted = await up_again(stack)
    assert restarted == (leader,)
    return {"killed": leader, "new_leader_s": round(elected_s, 2), "up_caught_up_s": round(up_s, 2)}


async def sigstop_nats_node(stack: Stack, nc: NatsClient) -> dict[str, Any]:
    hung = await reports_leader(nc)
    await asyncio.to_thread(stack.kill, hung, signal.SIGSTOP)
    try:
        elected_s = await new_leader_after(nc, hung)
        await asyncio.sleep(max(0.0, 30.0 - elected_s))  # a peer hung for 30 s in all
    finally:
        await asyncio.to_thread(stack.kill, hung, signal.SIGCONT)
    up_s, restarted = await up_again(stack)  # nothing to restart: waits until it is current
    assert restarted == ()
    return {"hung": hung, "hung_s": 30.0, "new_leader_s": round(elected_s, 2),
            "current_again_s": round(up_s, 2)}  # fmt: skip


async def sigkill_volume_server(stack: Stack, nc: NatsClient) -> dict[str, Any]:
    await asyncio.to_thread(stack.kill, "weed-volume-2")
    await asyncio.sleep(2 * STEADY_S)  # the archiver keeps writing on the two others
    up_s, restarted = await up_again(stack)
    assert restarted == ("weed-volume-2",)
    return {"killed": "weed-volume-2", "up_s": round(up_s, 2)}


async def sigkill_raft_leader_master(stack: Stack, nc: NatsClient) -> dict[str, Any]:
    leader = await asyncio.to_thread(node_with_role, stack, "raft leader")
    assert leader is not None
    await asyncio.to_thread(stack.kill, leader)
    began = time.monotonic()

    async def elected() -> bool:
        now = await asyncio.to_thread(node_with_role, stack, "raft leader")
        return now is not None and now != leader

    elected_s = await eventually(elected, STEP_TIMEOUT_S, "a new Raft leader", every=0.5)
    await asyncio.sleep(STEADY_S)
    up_s, restarted = await up_again(stack)
    assert restarted == (leader,)
    return {"killed": leader, "new_raft_leader_s": round(elected_s, 2),
            "down_s": round(time.monotonic() - began, 2), "up_s": round(up_s, 2)}  # fmt: skip


async def rolling_restart(stack: Stack, nc: NatsClient) -> dict[str, Any]:
    steps = []
    for node in ("nats-1", "nats-2", "nats-3"):
        began = time.monotonic()
        await asyncio.to_thread(stack.kill, node, signal.SIGTERM)  # a clean stop
        up_s, restarted = await up_again(stack)
        assert restarted == (node,)
        steps.append({"node": node, "restart_s": round(time.monotonic() - began, 2),
                      "up_caught_up_s": round(up_s, 2)})  # fmt: skip
    return {"restarts": steps}


async def test_sigkill_of_the_reports_leader_then_up(cluster: Stack, tmp_path: Path) -> None:
    await run_case(cluster, tmp_path, "cluster-sigkill-reports-leader", sigkill_reports_leader)


# nats-py leaves the socket of a connection it gives up on (a hung server, a server stopping)
# to the garbage collector, which warns about it; our clients are not the ones leaking.
NATS_PY_ABANDONED_SOCKET = (
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
)


@NATS_PY_ABANDONED_SOCKET[0]
@NATS_PY_ABANDONED_SOCKET[1]
async def test_sigstop_of_a_nats_node_for_30_s(cluster: Stack, tmp_path: Path) -> None:
    await run_case(cluster, tmp_path, "cluster-sigstop-nats-node", sigstop_nats_node)


async def test_sigkill_of_a_volume_server_while_archiving(cluster: Stack, tmp_path: Path) -> None:
    await run_case(cluster, tmp_path, "cluster-sigkill-volume-server", sigkill_volume_server)


async def test_sigkill_of_the_raft_leader_master(cluster: Stack, tmp_path: Path) -> None:
    await run_case(cluster, tmp_path, "cluster-sigkill-raft-leader", sigkill_raft_leader_master)


@NATS_PY_ABANDONED_SOCKET[0]
@NATS_PY_ABANDONED_SOCKET[1]
async def test_rolling_restart_of_every_nats_node(cluster: Stack, tmp_path: Path) -> None:
    await run_case(cluster, tmp_path, "cluster-rolling-restart", rolling_restart)


class SseWatcher:
    """An officer's live stream of alerts from the gateway, reconnecting with its
    ``Last-Event-ID`` if the stream ever ends (as a browser's EventSource does)."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.url = base_url + "/api/v1/alerts/stream"
        self.headers = headers
        self.alert_ids: set[str] = set()
        self.reopened = 0
        self.opened = asyncio.Event()

    async def run(self) -> None:
        last: str | None = None
        async with aiohttp.ClientSession(headers=self.headers) as http:
            while True:
                try:
                    async for event in sse_events(
                        http, self.url, last_event_id=last, opened=self.opened
                    ):
                        last = event.id or last
                        self.alert_ids.add(json.loads(event.data)["alert_id"])
                except (aiohttp.ClientError, TimeoutError):
                    pass
                self.reopened += 1
                await asyncio.sleep(0.2)


async def test_http_ingest_and_sse_ride_over_the_reports_leader(
    cluster: Stack, tmp_path: Path
) -> None:
    """Drones post to the gateway (202 only once the replicated stream stored the report) and
    an officer watches the SSE stream while the REPORTS leader is killed and brought back."""
    alerter = Component(cluster, ("alerter",), tmp_path / "alerter.log")
    archiver = Component(cluster, ARCHIVER_ARGS, tmp_path / "archiver.log")
    gateway, base_url = gateway_component(cluster, tmp_path)
    stop = asyncio.Event()
    async with components(alerter, archiver, gateway), monitor(cluster) as nc:
        await wait_http_ready(base_url, STEP_TIMEOUT_S)
        watcher = SseWatcher(base_url, http_headers(cluster, "viewer"))
        watching = asyncio.create_task(watcher.run())
        await asyncio.wait_for(watcher.opened.wait(), STEP_TIMEOUT_S)
        fleet = HttpFleet(base_url, http_headers(cluster, "drone"), rate=RATE)
        load = asyncio.create_task(fleet.run(stop))
        try:
            await asyncio.sleep(STEADY_S)
            measured = await sigkill_reports_leader(cluster, nc)
            await asyncio.sleep(STEADY_S)
        finally:
            stop.set()
            ledger: Ledger = await asyncio.wait_for(load, STEP_TIMEOUT_S)
        try:
            settle_s = await settle_everything(cluster, nc, ledger, ["alerter", "archiver"], 180)
        except AssertionError as exc:
            logs = "\n".join(f"-- {c.name}:\n{log_tail(c.output())}" for c in (alerter, archiver))
            raise AssertionError(f"{exc}\n{logs}") from None
        verdict = await check_everything(cluster, nc, ledger)

        async def streamed() -> bool:
            return set(ledger.alerts) <= watcher.alert_ids

        sse_s = await eventually(streamed, STEP_TIMEOUT_S, "every alert on the SSE stream")
        watching.cancel()
        for component in (alerter, archiver, gateway):
            assert component.pid is not None, f"{component.name} died:\n{component.output()}"
    record(
        "cluster-http-sse-reports-leader",
        {
            **verdict.as_dict(),
            "nodes": 3,
            "rate_per_s": RATE,
            "http_answers": fleet.answers,
            "sse_reopened": watcher.reopened,
            "sse_complete_after_settle_s": round(sse_s, 2),
            "settle_after_load_s": round(settle_s, 2),
            **measured,
        },
    )
    assert verdict.losses == verdict.duplicates == 0
    assert watcher.reopened == 0, "the SSE stream ended during the failover"
