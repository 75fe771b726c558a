"""``alert_log.follow`` against a real nats-server: a reader lost before its first message
resumes from where it started, not from the start of ``ALERTS``."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg

from peaceland.contract import ALERTS_STREAM, alert_subject
from peaceland.delivery import follow, stream_bounds

pytestmark = pytest.mark.slow


async def test_follow_survives_losing_its_consumer_without_replaying(stack: Any) -> None:
    subject = alert_subject("fl-" + uuid.uuid4().hex[:10])
    nc = await nats.connect(stack.endpoints.nats_url)
    seen: list[bytes] = []
    arrived = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        seen.append(msg.data)
        arrived.set()

    try:
        js = nc.jetstream()
        for payload in (b"old-1", b"old-2"):
            await js.publish(subject, payload)
        _, last = await stream_bounds(js)
        reader = await follow(nc, on_msg, after=last, subject=subject)
        try:
            infos = await js.consumers_info(ALERTS_STREAM)
            [name] = [
                i.name for i in infos if i.config is not None and i.config.filter_subject == subject
            ]
            await js.delete_consumer(ALERTS_STREAM, name)  # lost before its first message
            await js.publish(subject, b"new")
            await asyncio.wait_for(arrived.wait(), 15)
        finally:
            await reader.unsubscribe()
        assert seen[:1] == [b"new"]  # in order: a replay would have brought b"old-1" first
    finally:
        await nc.drain()
