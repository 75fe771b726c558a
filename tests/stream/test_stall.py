"""Stall detection against a real nats-server, on a fake clock: a consumer with messages
pending and nothing delivered is re-created, and so is one that is gone."""

from __future__ import annotations

import pytest
from consumer_helpers import drone_fixture, nc_fixture, spec_for  # noqa: F401
from nats.aio.client import Client as NatsClient

from peaceland.stream import ensure_consumer
from peaceland.stream.consumer.stall import STALL_S, StallWatch

pytestmark = pytest.mark.slow


async def test_pending_messages_without_deliveries_are_a_stall(nc: NatsClient, drone: str) -> None:
    spec = spec_for(drone)
    js = nc.jetstream()
    await ensure_consumer(js, spec)
    now = [0.0]
    watch = StallWatch(lambda: now[0])
    assert await watch.check(nc, spec.stream, spec.durable) is None  # nothing to wait for yet
    now[0] += STALL_S + 1
    assert await watch.check(nc, spec.stream, spec.durable) is None  # nothing pending
    await js.publish(f"peaceland.reports.{drone}", b"waiting")
    assert await watch.check(nc, spec.stream, spec.durable) is None  # asked a moment ago
    now[0] += STALL_S + 1
    why = await watch.check(nc, spec.stream, spec.durable)
    assert why is not None
    assert "1 messages pending" in why
    watch.delivered()
    now[0] += 1
    assert await watch.check(nc, spec.stream, spec.durable) is None  # a delivery: all well
    await js.delete_consumer(spec.stream, spec.durable)
    now[0] += STALL_S + 1
    assert await watch.check(nc, spec.stream, spec.durable) == "consumer not found"


async def test_unacknowledged_messages_never_redelivered_are_a_stall(
    nc: NatsClient, drone: str
) -> None:
    spec = spec_for(drone)
    js = nc.jetstream()
    await ensure_consumer(js, spec)
    await js.publish(f"peaceland.reports.{drone}", b"taken, never acknowledged")
    sub = await js.pull_subscribe_bind(spec.durable, spec.stream)
    [taken] = await sub.fetch(1, timeout=5)  # delivered to a request that is then gone
    assert taken.data == b"taken, never acknowledged"
    now = [0.0]
    watch = StallWatch(lambda: now[0])
    now[0] += STALL_S + 1
    assert await watch.check(nc, spec.stream, spec.durable) is None  # within its ack wait
    now[0] += spec.ack_wait_s
    why = await watch.check(nc, spec.stream, spec.durable)
    assert why is not None
    assert "1 messages unacknowledged, none redelivered" in why
