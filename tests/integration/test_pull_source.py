"""``PullSource`` against a real nats-server: shared durables, redelivery, verdicts."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import nats
import pytest

from peaceland.bus import REPORTS_STREAM
from peaceland.consumer import ConsumerSpec, consumer_lag
from peaceland.pull import PROGRESS, TERM, PullSource, parse_ack_subject

if TYPE_CHECKING:
    from nats.js import JetStreamContext

pytestmark = pytest.mark.slow


def spec_for(drone: str, **settings: Any) -> ConsumerSpec:
    return ConsumerSpec(
        REPORTS_STREAM, "pull-" + drone, filter_subject=f"peaceland.reports.{drone}", **settings
    )


async def lag_settles(js: JetStreamContext, spec: ConsumerSpec) -> tuple[int, int] | None:
    """The consumer's lag: (0, 0) as soon as it gets there, else what it is after 5 s.

    ``settle`` returns when the server has received the verdicts; the server applies
    acknowledgements on its own queue, so the lag can trail them by a moment.
    """
    lag = await consumer_lag(js, spec)
    for _ in range(50):
        if lag == (0, 0):
            break
        await asyncio.sleep(0.1)
        lag = await consumer_lag(js, spec)
    return lag


async def test_two_sources_on_one_durable_share_messages_without_overlap(stack: Any) -> None:
    drone = "ps-" + uuid.uuid4().hex[:10]
    spec = spec_for(drone)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        for i in range(300):
            await js.publish(f"peaceland.reports.{drone}", str(i).encode())
        first, second = PullSource(nc, spec), PullSource(nc, spec)
        seen: list[bytes] = []
        for _ in range(10):
            if len(seen) == 300:
                break
            for source in (first, second):
                msgs = await source.fetch(70, 0.5, 2**20)
                seen.extend(m.data for m in msgs)
                assert await source.settle([m.reply for m in msgs])
        assert sorted(seen, key=int) == [str(i).encode() for i in range(300)]
        assert await lag_settles(js, spec) == (0, 0)
        assert await first.fetch(10, 0.2, 2**20) == []  # nothing left: returns after the wait
        await first.close()
        await second.close()
    finally:
        await nc.drain()


async def test_unsettled_messages_come_back_and_verdicts_hold(stack: Any) -> None:
    drone = "ps-" + uuid.uuid4().hex[:10]
    spec = spec_for(drone, ack_wait_s=1.0)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        for payload in (b"dropped", b"kept", b"terminated"):
            await js.publish(f"peaceland.reports.{drone}", payload)
        source = PullSource(nc, spec)
        _, kept, terminated = await source.fetch(3, 1.0, 2**20)
        await source.settle([terminated.reply], TERM)
        redelivered = []
        for _ in range(5):  # 2.5 s, the ack wait is 1 s; "kept" is marked in progress
            await source.settle([kept.reply], PROGRESS)
            redelivered.extend(await source.fetch(3, 0.5, 2**20))
        assert {m.data for m in redelivered} == {b"dropped"}
        assert parse_ack_subject(redelivered[0].reply).delivered == 2
        assert await source.settle([m.reply for m in redelivered] + [kept.reply])
        assert await lag_settles(js, spec) == (0, 0)
        await source.close()
    finally:
        await nc.drain()


async def test_a_deleted_consumer_ends_the_request_and_is_created_again(stack: Any) -> None:
    drone = "ps-" + uuid.uuid4().hex[:10]
    spec = spec_for(drone)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        source = PullSource(nc, spec)
        request = asyncio.create_task(source.fetch(1, 30.0, 2**20))
        for _ in range(50):
            if await consumer_lag(js, spec) is not None:
                break
            await asyncio.sleep(0.1)
        await js.delete_consumer(spec.stream, spec.durable)
        assert await asyncio.wait_for(request, 10.0) == []  # well before its 30 s
        await js.publish(f"peaceland.reports.{drone}", b"after")
        got = []
        for _ in range(10):
            got = await source.fetch(1, 0.5, 2**20)
            if got:
                break
        assert [m.data for m in got] == [b"after"]
        assert await source.settle([m.reply for m in got])
        assert await lag_settles(js, spec) == (0, 0)
        await source.close()
    finally:
        await nc.drain()
