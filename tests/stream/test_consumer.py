"""Durable consumer set-up and lag against a real nats-server."""

from __future__ import annotations

import uuid
from typing import Any

import nats
import pytest

from peaceland.contract import REPORTS_STREAM
from peaceland.stream import ConsumerSpec, consumer_lag, ensure_consumer

pytestmark = pytest.mark.slow


async def test_lag_counts_undelivered_then_unacknowledged_messages(stack: Any) -> None:
    drone = "cs-" + uuid.uuid4().hex[:10]
    subject = f"peaceland.reports.{drone}"
    spec = ConsumerSpec(REPORTS_STREAM, "test-" + drone, filter_subject=subject)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        assert await consumer_lag(js, spec) is None
        await ensure_consumer(js, spec)
        await ensure_consumer(js, spec)  # idempotent
        for i in range(10):
            await js.publish(subject, str(i).encode())
        assert await consumer_lag(js, spec) == (10, 0)
        sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
        msgs = await sub.fetch(4, timeout=5)
        assert await consumer_lag(js, spec) == (6, 4)
        for msg in msgs:
            await msg.ack_sync()
        assert await consumer_lag(js, spec) == (6, 0)
        await sub.unsubscribe()
        await js.delete_consumer(REPORTS_STREAM, spec.durable)
    finally:
        await nc.drain()
