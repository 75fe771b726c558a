"""Durable batch consumers against a real nats-server."""

from __future__ import annotations

import uuid
from typing import Any

import nats
import pytest

from peaceland.bus import REPORTS_STREAM
from peaceland.consumer import BatchConsumer, ConsumerSpec, consumer_lag

pytestmark = pytest.mark.slow


async def test_two_fetchers_on_one_durable_share_messages_without_overlap(stack: Any) -> None:
    drone = "cs-" + uuid.uuid4().hex[:10]
    spec = ConsumerSpec(
        REPORTS_STREAM, "test-" + drone, filter_subject=f"peaceland.reports.{drone}"
    )
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        for i in range(100):
            await js.publish(f"peaceland.reports.{drone}", str(i).encode())
        first = BatchConsumer(js, spec, batch=30, max_wait_s=0.5)
        second = BatchConsumer(js, spec, batch=30, max_wait_s=0.5)
        seen: list[bytes] = []
        for _ in range(10):
            for consumer in (first, second):
                for msg in await consumer.fetch():
                    seen.append(msg.data)
                    await msg.ack_sync()
        assert sorted(seen, key=int) == [str(i).encode() for i in range(100)]
        assert await consumer_lag(js, spec) == (0, 0)
        assert await first.fetch() == []
        await first.close()
        await second.close()
    finally:
        await nc.drain()


async def test_unacknowledged_messages_come_back(stack: Any) -> None:
    drone = "cs-" + uuid.uuid4().hex[:10]
    spec = ConsumerSpec(
        REPORTS_STREAM, "test-" + drone, filter_subject=f"peaceland.reports.{drone}", ack_wait_s=1
    )
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        await js.publish(f"peaceland.reports.{drone}", b"once")
        consumer = BatchConsumer(js, spec, batch=10, max_wait_s=0.5)
        [msg] = await consumer.fetch()  # not acknowledged: as if the process died here
        assert msg.metadata.num_delivered == 1
        again: list[Any] = []
        for _ in range(10):
            again = await consumer.fetch()
            if again:
                break
        assert [m.data for m in again] == [b"once"]
        assert again[0].metadata.num_delivered == 2
        await again[0].ack_sync()
        await consumer.close()
    finally:
        await nc.drain()
