"""Shared by the consumer tests: a fresh drone id (its own subjects), a connection, waiting
for a condition with a deadline, a first batch. Import the fixtures by name::

    from consumer_helpers import drone_fixture, nc_fixture  # noqa: F401
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from peaceland.contract import REPORTS_STREAM
from peaceland.stream import ConsumerSpec, MessageStream


@pytest.fixture(name="drone")
def drone_fixture() -> str:
    return "st-" + uuid.uuid4().hex[:10]


@pytest.fixture(name="nc")
async def nc_fixture(stack: Any) -> AsyncIterator[NatsClient]:
    client = await nats.connect(stack.endpoints.nats_url)
    try:
        yield client
    finally:
        await client.drain()


def spec_for(drone: str, **settings: Any) -> ConsumerSpec:
    """A durable of the drone's own reports."""
    return ConsumerSpec(
        REPORTS_STREAM, "pull-" + drone, filter_subject=f"peaceland.reports.{drone}", **settings
    )


async def request_waiting(nc: NatsClient, spec: ConsumerSpec) -> bool:
    """Whether the durable exists and a pull request of ours has reached it."""
    js = nc.jetstream()
    infos = [i for i in await js.consumers_info(spec.stream) if i.name == spec.durable]
    return bool(infos and (infos[0].num_waiting or 0) >= 1)


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> bool:
    """Whether ``check`` holds within ``seconds`` (polled every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def first_batch(stream: MessageStream, tries: int) -> list[Msg]:
    """The first non-empty batch within ``tries`` calls of ``next_batch``, else ``[]``."""
    for _ in range(tries):
        got = await stream.next_batch()
        if got:
            return got
    return []
