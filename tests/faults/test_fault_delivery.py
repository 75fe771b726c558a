"""Faults around delivery: a webhook receiver that is down, slow, then answers 500 under a
steady alert load (no alert lost or stored twice, delivery resumes); the same report published
three times within JetStream's duplicate window and beyond it (one row, one alert)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fault_kit import (
    ARCHIVER_ARGS,
    Fleet,
    Ledger,
    archive_census,
    case_seed,
    check_everything,
    connect_forever,
    drone_url,
    eventually,
    make_report,
    monitor,
    record,
    settle_everything,
)
from nats.js import api as js_api

from peaceland.contract import ALERTS_STREAM, MSG_ID_HEADER, REPORTS_STREAM, report_subject
from peaceland.delivery.webhook_policy import ALERT_ID_HEADER, endpoint_id
from peaceland.servers import free_port
from peaceland.testing import Component, components

pytestmark = pytest.mark.slow

#: How the receiver behaves, in order, and for how long (s).
PHASES: tuple[tuple[str, float], ...] = (
    ("ok", 4),
    ("down", 6),
    ("slow", 5),
    ("error", 5),
    ("ok", 0),
)
SLOW_S = 2.0  # longer than the deliverer's 1 s timeout
DEDUP_WINDOW_S = 2.0


class Receiver:
    """A webhook endpoint on a fixed port that can be down, slow, failing or fine."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "ok"
        #: Alert ids answered 2xx, in order (with repeats).
        self.accepted: list[str] = []
        self.requests = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        alert_id = request.headers.get(ALERT_ID_HEADER, "")
        if self.mode == "slow":
            await asyncio.sleep(SLOW_S)
        if self.mode == "error":
            return web.Response(status=500, text="receiver failing")
        self.accepted.append(alert_id)
        return web.Response(status=200, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def set_mode(self, mode: str) -> None:
        if mode == "down":
            await self.stop()
        elif self._runner is None:
            await self.start()
        self.mode = mode


async def test_webhook_receiver_down_slow_and_failing(fresh_stack: Any, tmp_path: Path) -> None:
    case = "webhook-receiver-faults"
    seed = case_seed(case)
    stack = fresh_stack
    receiver = Receiver()
    await receiver.start()
    env = {"PEACELAND_WEBHOOK_URLS": receiver.url, "PEACELAND_WEBHOOK_SECRET": "fault-suite"}
    alerter = Component(stack, ("alerter",), tmp_path / "alerter.log")
    archiver = Component(stack, ARCHIVER_ARGS, tmp_path / "archiver.log")
    hooks = Component(
        stack,
        ("webhooks", "--timeout", "1", "--max-backoff", "2"),
        tmp_path / "webhooks.log",
        env,
    )
    durable = "webhook-" + endpoint_id(receiver.url)
    stop = asyncio.Event()
    try:
        async with components(alerter, archiver, hooks), monitor(stack) as nc:
            js = nc.jetstream()

            async def durable_ready() -> bool:
                await js.consumer_info(ALERTS_STREAM, durable)
                return True

            await eventually(durable_ready, 30, "webhook durable")
            fleet = Fleet(drone_url(stack), rate=100)
            load = asyncio.create_task(fleet.run(stop))
            try:
                for mode, seconds in PHASES[:-1]:
                    await receiver.set_mode(mode)
                    await asyncio.sleep(seconds)
                await receiver.set_mode("ok")
                resumed = time.monotonic()
            finally:
                stop.set()
                ledger: Ledger = await asyncio.wait_for(load, 60)
            settle_s = await settle_everything(stack, nc, ledger, ["alerter", "archiver"])
            verdict = await check_everything(stack, nc, ledger)

            async def all_delivered() -> bool:
                return set(ledger.alerts) <= set(receiver.accepted)

            await eventually(all_delivered, 60, "every alert delivered")
            delivered_s = time.monotonic() - resumed
            info = await js.consumer_info(ALERTS_STREAM, durable)
            assert hooks.pid is not None, hooks.output()
    finally:
        await receiver.stop()
    accepted = receiver.accepted
    repeats = len(accepted) - len(set(accepted))
    record(
        case,
        {
            **verdict.as_dict(),
            "seed": seed,
            "rate_per_s": fleet.rate,
            "phases": [f"{m} {s:g}s" for m, s in PHASES[:-1]],
            "webhook_requests": receiver.requests,
            "webhook_accepted": len(accepted),
            "webhook_repeats": repeats,
            "webhook_lost": len(set(ledger.alerts) - set(accepted)),
            "recovery_s": round(delivered_s, 2),
            "settle_after_load_s": round(settle_s, 2),
            "webhook_durable_pending_after": (info.num_pending or 0) + (info.num_ack_pending or 0),
        },
    )
    # Every alert reached the receiver; none that was not raised did.
    assert set(accepted) == set(ledger.alerts)
    # The slow phase answered after the deliverer gave up: those came again (at least once).
    assert receiver.requests > len(set(accepted))
    assert verdict.losses == verdict.duplicates == 0


async def set_duplicate_window(nc: Any, seconds: float) -> None:
    js = nc.jetstream()
    config = (await js.stream_info(REPORTS_STREAM)).config
    await js.update_stream(dataclasses.replace(config, duplicate_window=seconds))


async def test_same_report_three_times_within_and_beyond_the_dedup_window(
    fresh_stack: Any, tmp_path: Path
) -> None:
    case = "duplicate-reports"
    case_seed(case)  # nothing random here; printed for uniformity
    stack = fresh_stack
    alerter = Component(stack, ("alerter",), tmp_path / "alerter.log")
    archiver = Component(stack, ARCHIVER_ARGS, tmp_path / "archiver.log")
    ledger = Ledger()
    with_id = [make_report("dup-a", n) for n in range(100)]
    without_id = [make_report("dup-b", n) for n in range(50)]
    async with monitor(stack) as nc:
        await set_duplicate_window(nc, DEDUP_WINDOW_S)
        async with components(alerter, archiver):
            drone = await connect_forever(drone_url(stack), "fault-duplicates")
            js = drone.jetstream()
            acks: list[js_api.PubAck] = []
            try:
                for round_ in range(3):
                    # Within the window: three copies at once, then (rounds 2, 3) once more
                    # after the window has passed.
                    copies = 3 if round_ == 0 else 1
                    for report_id, payload, alerts in with_id:
                        for _ in range(copies):
                            acks.append(
                                await js.publish(
                                    report_subject("dup-a"),
                                    payload,
                                    headers={MSG_ID_HEADER: report_id},
                                )
                            )
                        ledger.add(report_id, payload, alerts)
                    # Without a message id (a plain NATS drone): JetStream cannot drop them.
                    for report_id, payload, alerts in without_id:
                        acks.append(await js.publish(report_subject("dup-b"), payload))
                        ledger.add(report_id, payload, alerts)
                    await asyncio.sleep(DEDUP_WINDOW_S + 0.5)
            finally:
                await drone.close()
            settle_s = await settle_everything(stack, nc, ledger, ["alerter", "archiver"])
            verdict = await check_everything(stack, nc, ledger)
            stored = int((await nc.jetstream().stream_info(REPORTS_STREAM)).state.messages)
            reports, _ = await archive_census(stack)
    published = len(acks)
    dropped_by_jetstream = sum(1 for a in acks if a.duplicate)
    record(
        case,
        {
            **verdict.as_dict(),
            "messages_published": published,
            "distinct_reports": len(ledger.reports),
            "dropped_by_jetstream_window": dropped_by_jetstream,
            "stored_in_reports_stream": stored,
            "stored_parquet_rows": sum(reports.stored.values()),
            "duplicate_window_s": DEDUP_WINDOW_S,
            "settle_after_load_s": round(settle_s, 2),
        },
    )
    # 100 reports x (3 within the window + 2 beyond it) + 50 x 3 without an id.
    assert published == 100 * 5 + 50 * 3
    assert dropped_by_jetstream == 100 * 2
    assert stored == 100 * 3 + 50 * 3
    # Beyond the window the copies reach the archive, where the view keeps one each.
    assert sum(reports.stored.values()) == stored
    assert verdict.losses == verdict.duplicates == 0
    json.dumps(verdict.as_dict())
