"""Webhook delivery against a real nats-server and local HTTP receivers: signed, retried with
backoff on failure without delaying SSE, 4xx recorded as failed and never retried, and a dead
endpoint never delaying a live one."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from nats.js.errors import NotFoundError

from alert_helpers import (
    SseReader,
    Web,
    eventually,
    make_alert,
    publish_alert,
    unique_drone,
    web_app,
)
from peaceland.config import Secret
from peaceland.contract import (
    ALERTS_STREAM,
    DEADLETTER_STREAM,
    ERROR_HEADER,
    alert_subject,
    encode_alert,
)
from peaceland.delivery import WebhookOptions, run_webhooks
from peaceland.delivery.webhook_policy import endpoint_id, verify
from peaceland.delivery.webhooks import Endpoint

pytestmark = pytest.mark.slow

SECRET = "correct horse battery staple"


@dataclasses.dataclass
class Delivery:
    at: float
    body: bytes
    headers: dict[str, str]


class Receiver:
    """A local webhook endpoint answering with ``answer(attempt number for the alert)``."""

    def __init__(self, answer: Callable[[int], Awaitable[web.Response]]) -> None:
        self.answer = answer
        self.deliveries: list[Delivery] = []
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.deliveries.append(Delivery(time.perf_counter(), body, dict(request.headers)))
        alert_id = request.headers.get("Peaceland-Alert-Id")
        attempt = sum(1 for d in self.deliveries if d.headers["Peaceland-Alert-Id"] == alert_id)
        return await self.answer(attempt)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hook")) + "?token=abc"


@contextlib.asynccontextmanager
async def receiving(answer: Callable[[int], Awaitable[web.Response]]) -> AsyncIterator[Receiver]:
    receiver = Receiver(answer)
    await receiver.server.start_server()
    try:
        yield receiver
    finally:
        await receiver.server.close()


@contextlib.asynccontextmanager
async def delivering(
    stack: Any, drone: str, urls: list[str], **overrides: Any
) -> AsyncIterator[None]:
    """``run_webhooks`` on this drone's alerts, its durables ready before it yields."""
    settings = dataclasses.replace(
        stack.settings, webhook_urls=tuple(urls), webhook_secret=Secret(SECRET)
    )
    values: dict[str, Any] = {
        "filter_subject": alert_subject(drone),
        "durable_prefix": f"test-webhook-{drone}-",
        "backoff_base_s": 1.0,
        "timeout_s": 2.0,
        "max_wait_s": 0.2,
    }
    values.update(overrides)
    options = WebhookOptions(**values)
    stop = asyncio.Event()
    task = asyncio.create_task(run_webhooks(settings, stop, options))
    nc = await nats.connect(stack.endpoints.nats_url)
    durables = [options.durable_prefix + endpoint_id(url) for url in urls]

    async def ready() -> bool:
        try:
            for durable in durables:
                await nc.jetstream().consumer_info(ALERTS_STREAM, durable)
        except NotFoundError:
            return False
        return True

    try:
        await eventually(ready)
        yield
    finally:
        stop.set()
        endpoints: list[Endpoint] = await asyncio.wait_for(task, 30)
        assert len(endpoints) == len(urls)
        await nc.drain()


async def answer_500_then_200(attempt: int) -> web.Response:
    return web.Response(status=500 if attempt == 1 else 200, text="oops" if attempt == 1 else "ok")


@pytest.fixture
async def sse_web(stack: Any) -> AsyncIterator[Web]:
    async with web_app(stack) as running:
        yield running


async def test_a_failing_webhook_is_retried_signed_and_never_delays_sse(
    stack: Any, sse_web: Web
) -> None:
    drone = unique_drone("wh")
    alert = make_alert(drone, 0)
    async with receiving(answer_500_then_200) as receiver, delivering(stack, drone, [receiver.url]):
        reader = SseReader(sse_web, drone)
        try:
            await asyncio.wait_for(reader.opened.wait(), 5)
            published = time.perf_counter()
            await publish_alert(sse_web.js, alert)
            (event, _), *_ = await reader.wait_for(1)
            await eventually(lambda: _count(receiver, 2))
        finally:
            await reader.close()
    first, second = receiver.deliveries[:2]
    assert event.received_at - published < 0.5
    assert event.received_at < second.at  # SSE did not wait for the webhook's retry
    assert second.at - first.at >= 0.7  # backoff: 1 s ± 25 %
    assert [d.headers["Peaceland-Delivery-Attempt"] for d in (first, second)] == ["1", "2"]
    for delivery in (first, second):
        assert delivery.body == encode_alert(alert)
        assert delivery.headers["Peaceland-Alert-Id"] == alert.alert_id
        assert delivery.headers["Content-Type"] == "application/json"
        assert verify(SECRET, delivery.body, delivery.headers["Peaceland-Signature"])
        assert not verify("wrong secret", delivery.body, delivery.headers["Peaceland-Signature"])
    await asyncio.sleep(0.5)
    assert len(receiver.deliveries) == 2  # delivered: no more attempts


async def _count(receiver: Receiver, n: int) -> bool:
    return len(receiver.deliveries) >= n


async def test_a_4xx_answer_is_recorded_as_failed_and_not_retried(stack: Any, sse_web: Web) -> None:
    drone = unique_drone("wh")
    alert = make_alert(drone, 0)

    async def refuse(attempt: int) -> web.Response:
        return web.Response(status=422, text="unknown field 'words'")

    async with receiving(refuse) as receiver, delivering(stack, drone, [receiver.url]):
        durable = f"test-webhook-{drone}-" + endpoint_id(receiver.url)
        await publish_alert(sse_web.js, alert)

        async def dead_letter() -> Any:
            try:
                msg = await sse_web.js.get_last_msg(
                    DEADLETTER_STREAM, "peaceland.deadletter.webhook"
                )
            except NotFoundError:
                return None
            return msg if msg.data == encode_alert(alert) else None

        letter = await eventually(dead_letter)
        await asyncio.sleep(1.5)  # a retry, if any, would come within the 1 s backoff
    assert len(receiver.deliveries) == 1
    reason = letter.headers[ERROR_HEADER]
    assert "answered 422 Unprocessable Entity: unknown field 'words'" in reason
    assert "token" not in reason  # the URL is written without its query
    info = await sse_web.js.consumer_info(ALERTS_STREAM, durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def test_a_dead_endpoint_never_delays_a_live_one(stack: Any, sse_web: Web) -> None:
    drone = unique_drone("wh")

    async def fine(attempt: int) -> web.Response:
        return web.Response(text="ok")

    async def hang(attempt: int) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="too late")

    async with (
        receiving(fine) as live,
        receiving(hang) as stuck,
        delivering(stack, drone, [stuck.url, "http://127.0.0.1:9/refused", live.url]),
    ):
        started = time.perf_counter()
        for n in range(3):
            await publish_alert(sse_web.js, make_alert(drone, n))
        await eventually(lambda: _count(live, 3), timeout=5)
        elapsed = time.perf_counter() - started
        await eventually(lambda: _count(stuck, 3))  # in flight all at once, none answered
    assert elapsed < 1.0, elapsed
    assert sorted(d.headers["Peaceland-Alert-Id"] for d in live.deliveries) == [
        make_alert(drone, n).alert_id for n in range(3)
    ]
