"""The servers fail under load: ``nats-server`` SIGKILLed and restarted (components reconnect
and resume by themselves), SeaweedFS down for 60 s (the archiver holds, acknowledges nothing,
stays within bounded memory, then catches up)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import pytest
from fault_kit import (
    ARCHIVER_ARGS,
    Fleet,
    Ledger,
    case_seed,
    catch_up_time,
    check_everything,
    drone_url,
    monitor,
    record,
    settle_everything,
)
from nats.aio.client import Client as NatsClient

from peaceland.contract import REPORTS_STREAM
from peaceland.servers import services
from peaceland.testing import Component, components

pytestmark = pytest.mark.slow

S3_OUTAGE_S = 60.0
#: The archiver's memory may grow this much over its size before the outage, at most.
RSS_GROWTH_LIMIT_MB = 150.0


async def restart_servers(stack: Any) -> float:
    """``peaceland up`` on the stack's data dir (restarts what is dead, same ports); seconds."""
    began = time.monotonic()
    await asyncio.to_thread(services.up, stack.settings, prefer_default_ports=False)
    return time.monotonic() - began


async def test_nats_server_sigkill_and_restart(fresh_stack: Any, tmp_path: Path) -> None:
    case = "sigkill-nats-server"
    seed = case_seed(case)
    rng = random.Random(seed)
    stack = fresh_stack
    alerter = Component(stack, ("alerter",), tmp_path / "alerter.log")
    archiver = Component(stack, ARCHIVER_ARGS, tmp_path / "archiver.log")
    stop = asyncio.Event()
    outages = []
    async with components(alerter, archiver), monitor(stack) as nc:
        fleet = Fleet(drone_url(stack))
        load = asyncio.create_task(fleet.run(stop))
        try:
            for _ in range(2):
                await asyncio.sleep(rng.uniform(3.0, 6.0))
                await asyncio.to_thread(services.kill_service, stack.settings, "nats")
                down = rng.uniform(0.5, 3.0)
                await asyncio.sleep(down)
                up_s = await restart_servers(stack)
                # Caught up: both durables acknowledged all REPORTS held once it is back.
                recovery = await catch_up_time(nc, ["alerter", "archiver"], timeout=60)
                outages.append(
                    {
                        "down_s": round(down, 2),
                        "up_s": round(up_s, 2),
                        "recovery_s": round(recovery, 2),
                    }
                )
            await asyncio.sleep(2.0)
        finally:
            stop.set()
            ledger: Ledger = await asyncio.wait_for(load, 60)
        settle_s = await settle_everything(stack, nc, ledger, ["alerter", "archiver"])
        verdict = await check_everything(stack, nc, ledger)
        for component in (alerter, archiver):  # resumed by themselves: never restarted
            assert component.pid is not None, component.output()
            assert component.starts == 1
            assert "Traceback" not in component.output(), component.output()
    record(
        case,
        {
            **verdict.as_dict(),
            "seed": seed,
            "rate_per_s": fleet.rate,
            "attempts": ledger.attempts,
            "retried": ledger.failures,
            "duplicate_acks": ledger.duplicate_acks,
            "outages": outages,
            "recovery_s": max(o["recovery_s"] for o in outages),
            "settle_after_load_s": round(settle_s, 2),
        },
    )
    assert verdict.losses == verdict.duplicates == 0


async def archiver_position(nc: NatsClient) -> tuple[int, int, int]:
    """The archiver's (ack floor, not yet delivered, delivered unacknowledged) on REPORTS."""
    info = await nc.jetstream().consumer_info(REPORTS_STREAM, "archiver")
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    return floor or 0, info.num_pending or 0, info.num_ack_pending or 0


async def test_s3_down_for_a_minute_under_load(fresh_stack: Any, tmp_path: Path) -> None:
    case = "s3-outage-60s"
    seed = case_seed(case)
    stack = fresh_stack
    alerter = Component(stack, ("alerter",), tmp_path / "alerter.log")
    archiver = Component(stack, ARCHIVER_ARGS, tmp_path / "archiver.log")
    stop = asyncio.Event()
    async with components(alerter, archiver), monitor(stack) as nc:
        fleet = Fleet(drone_url(stack))
        load = asyncio.create_task(fleet.run(stop))
        try:
            await asyncio.sleep(5.0)
            rss_before = archiver.rss_mb() or 0.0
            await asyncio.to_thread(services.kill_service, stack.settings, "weed")
            killed = time.monotonic()
            await asyncio.sleep(3.0)  # a flush that began before the kill fails, or is done
            floor_at_start, _, _ = await archiver_position(nc)
            samples: list[tuple[float, float, int, int, int]] = []
            while time.monotonic() - killed < S3_OUTAGE_S:
                floor, pending, unacked = await archiver_position(nc)
                samples.append(
                    (time.monotonic() - killed, archiver.rss_mb() or 0.0, floor, pending, unacked)
                )
                await asyncio.sleep(1.0)
            up_s = await restart_servers(stack)
            recovery = await catch_up_time(nc, ["archiver"], timeout=120)
            await asyncio.sleep(2.0)
        finally:
            stop.set()
            ledger: Ledger = await asyncio.wait_for(load, 60)
        settle_s = await settle_everything(stack, nc, ledger, ["alerter", "archiver"])
        verdict = await check_everything(stack, nc, ledger)
        assert archiver.pid is not None, archiver.output()
        assert archiver.starts == 1
        output = archiver.output()
    peak_rss = max(s[1] for s in samples)
    record(
        case,
        {
            **verdict.as_dict(),
            "seed": seed,
            "rate_per_s": fleet.rate,
            "outage_s": S3_OUTAGE_S,
            "weed_restart_s": round(up_s, 2),
            "recovery_s": round(recovery, 2),
            "settle_after_load_s": round(settle_s, 2),
            "archiver_rss_mb": {
                "before": round(rss_before, 1),
                "peak_during_outage": round(peak_rss, 1),
                "end_of_outage": round(samples[-1][1], 1),
            },
            "backlog_in_jetstream_at_end_of_outage": samples[-1][3] + samples[-1][4],
            "unacked_held_by_archiver_max": max(s[4] for s in samples),
        },
    )
    # No acknowledgement without a durable write: the ack floor did not move while S3 was down.
    assert {s[2] for s in samples} == {floor_at_start}, samples
    # The backlog waited in JetStream, and the archiver's memory stayed bounded.
    assert samples[-1][3] > samples[0][3], samples
    assert peak_rss < rss_before + RSS_GROWTH_LIMIT_MB, (rss_before, samples)
    assert "store back after" in output
    assert verdict.losses == verdict.duplicates == 0
