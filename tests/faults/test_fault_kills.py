"""SIGKILL of the alerter, the archiver, the gateway (mid-request), each at seeded random
points under a steady load, then restart: every acknowledged report archived once, every
alert stored once."""

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
    HttpFleet,
    Ledger,
    case_seed,
    catch_up_time,
    check_everything,
    drone_url,
    gateway_component,
    http_headers,
    monitor,
    record,
    settle_everything,
    wait_http_ready,
)

from peaceland.testing import Component, components

pytestmark = pytest.mark.slow

KILLS = 2


async def kill_at_random(
    victim: Component,
    rng: random.Random,
    recover: Any,
    kills: int = KILLS,
) -> list[dict[str, float]]:
    """``kills`` times: wait a random while, SIGKILL, stay down a random while, restart, and
    measure ``await recover()`` (seconds from the restart to caught up)."""
    began = time.monotonic()
    events = []
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(2.0, 6.0))
        at = time.monotonic() - began
        await victim.kill()
        down = rng.uniform(0.2, 2.0)
        await asyncio.sleep(down)
        await victim.start()
        recovery = await recover()
        events.append(
            {"killed_at_s": round(at, 2), "down_s": round(down, 2), "recovery_s": recovery}
        )
    return events


async def run_kill_case(fresh_stack: Any, tmp_path: Path, victim_name: str) -> None:
    case = f"sigkill-{victim_name}"
    seed = case_seed(case)
    rng = random.Random(seed)
    stack = fresh_stack
    alerter = Component(stack, ("alerter",), tmp_path / "alerter.log")
    archiver = Component(stack, ARCHIVER_ARGS, tmp_path / "archiver.log")
    gateway, base_url = gateway_component(stack, tmp_path)
    running = [alerter, archiver] + ([gateway] if victim_name == "gateway" else [])
    victim = {"alerter": alerter, "archiver": archiver, "gateway": gateway}[victim_name]
    stop = asyncio.Event()
    async with components(*running), monitor(stack) as nc:
        if victim_name == "gateway":
            await wait_http_ready(base_url)
            http_fleet = HttpFleet(base_url, http_headers(stack, "drone"))
            load = asyncio.create_task(http_fleet.run(stop))

            async def recover() -> float:
                return round(await wait_http_ready(base_url), 2)
        else:
            load = asyncio.create_task(Fleet(drone_url(stack)).run(stop))
            durable = victim_name

            async def recover() -> float:
                return round(await catch_up_time(nc, [durable], timeout=60), 2)

        try:
            kills = await kill_at_random(victim, rng, recover)
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            ledger: Ledger = await asyncio.wait_for(load, 60)
        settle_s = await settle_everything(stack, nc, ledger, ["alerter", "archiver"])
        verdict = await check_everything(stack, nc, ledger)
        for component in running:
            assert component.pid is not None, f"{component.name} died:\n{component.output()}"
    extra: dict[str, Any] = {}
    if victim_name == "gateway":
        extra["http_answers"] = http_fleet.answers
        # Requests cut by the kill: the drones saw no answer and posted again.
        assert http_fleet.answers.get("no answer", 0) > 0, http_fleet.answers
    record(
        case,
        {
            **verdict.as_dict(),
            "seed": seed,
            "rate_per_s": 150 if victim_name == "gateway" else 200,
            "attempts": ledger.attempts,
            "retried": ledger.failures,
            "kills": kills,
            "recovery_s": max(k["recovery_s"] for k in kills),
            "settle_after_load_s": round(settle_s, 2),
            **extra,
        },
    )
    assert verdict.losses == verdict.duplicates == 0


async def test_sigkill_alerter_under_load(fresh_stack: Any, tmp_path: Path) -> None:
    await run_kill_case(fresh_stack, tmp_path, "alerter")


async def test_sigkill_archiver_under_load(fresh_stack: Any, tmp_path: Path) -> None:
    await run_kill_case(fresh_stack, tmp_path, "archiver")


async def test_sigkill_gateway_mid_request(fresh_stack: Any, tmp_path: Path) -> None:
    await run_kill_case(fresh_stack, tmp_path, "gateway")
