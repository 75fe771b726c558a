"""Both readers across a nats-server restart: a continuous pull renews its requests, an
ordered reader is re-created after the last message it saw (its consumer lived in memory)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import nats
import pytest
from consumer_helpers import first_batch, spec_for, within
from nats.aio.client import Client as NatsClient

from peaceland.contract import REPORTS_STREAM
from peaceland.servers import services
from peaceland.stream import OrderedConsumer, PullConsumer, Start

pytestmark = pytest.mark.slow


async def restart_nats(stack: Any, nc: NatsClient) -> None:
    reconnects = nc.stats["reconnects"]
    await asyncio.to_thread(services.kill_service, stack.settings, "nats", signal.SIGKILL)
    await asyncio.to_thread(services.up, stack.settings, prefer_default_ports=False)

    async def reconnected() -> bool:
        return nc.stats["reconnects"] > reconnects and nc.is_connected

    assert await within(30, reconnected)


async def test_readers_resume_after_a_server_restart(fresh_stack: Any) -> None:
    drone = "rs-restart"
    subject = f"peaceland.reports.{drone}"
    nc = await nats.connect(fresh_stack.endpoints.nats_url, reconnect_time_wait=0.2)
    js = nc.jetstream()
    stream = PullConsumer(nc, spec_for(drone)).messages(batch=5, max_wait_s=0.2)
    reader = OrderedConsumer(nc, REPORTS_STREAM, filter_subject=subject, start=Start.first())
    try:
        await js.publish(subject, b"before")
        [got] = await first_batch(stream, 25)
        assert got.data == b"before"
        await got.ack()
        await reader.start()
        ordered = reader.messages(batch=5, max_wait_s=0.2, heartbeat_s=1.0)
        assert (await ordered.next(5.0)).data == b"before"

        await restart_nats(fresh_stack, nc)
        await js.publish(subject, b"after")
        [again] = await first_batch(stream, 100)  # 20 s at most
        assert again.data == b"after"
        await again.ack()
        assert (await ordered.next(20.0)).data == b"after"  # not b"before" again
        assert reader.resets >= 1
    finally:
        await stream.close()
        await reader.close()
        await nc.drain()
