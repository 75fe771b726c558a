"""``PullConsumer.fetch`` against a real nats-server: shared durables, redelivery, verdicts."""

from __future__ import annotations

import asyncio

import pytest
from consumer_helpers import drone_fixture, nc_fixture, request_waiting, spec_for, within  # noqa: F401
from nats.aio.client import Client as NatsClient

from peaceland.stream import (
    PROGRESS,
    TERM,
    ConsumerSpec,
    Lag,
    PullConsumer,
    consumer_lag,
    parse_ack_subject,
)

pytestmark = pytest.mark.slow


async def lag_settles(nc: NatsClient, spec: ConsumerSpec) -> Lag | None:
    """The consumer's lag: (0, 0) as soon as it gets there, else what it is after 5 s.

    ``settle`` returns when the server has received the verdicts; the server applies
    acknowledgements on its own queue, so the lag can trail them by a moment.
    """

    async def settled() -> bool:
        return await consumer_lag(nc.jetstream(), spec) == (0, 0)

    await within(5, settled)
    return await consumer_lag(nc.jetstream(), spec)


async def test_two_sources_on_one_durable_share_messages_without_overlap(
    nc: NatsClient, drone: str
) -> None:
    spec = spec_for(drone)
    js = nc.jetstream()
    for i in range(300):
        await js.publish(f"peaceland.reports.{drone}", str(i).encode())
    first, second = PullConsumer(nc, spec), PullConsumer(nc, spec)
    seen: list[bytes] = []
    for _ in range(10):
        if len(seen) == 300:
            break
        for source in (first, second):
            msgs = await source.fetch(70, 0.5, 2**20)
            seen.extend(m.data for m in msgs)
            assert await source.settle([m.reply for m in msgs])
    assert sorted(seen, key=int) == [str(i).encode() for i in range(300)]
    assert await lag_settles(nc, spec) == (0, 0)
    assert await first.fetch(10, 0.2, 2**20) == []  # nothing left: returns after the wait
    await first.close()
    await second.close()


async def test_unsettled_messages_come_back_and_verdicts_hold(nc: NatsClient, drone: str) -> None:
    spec = spec_for(drone, ack_wait_s=1.0)
    for payload in (b"dropped", b"kept", b"terminated"):
        await nc.jetstream().publish(f"peaceland.reports.{drone}", payload)
    source = PullConsumer(nc, spec)
    _, kept, terminated = await source.fetch(3, 1.0, 2**20)
    await source.settle([terminated.reply], TERM)
    redelivered = []
    for _ in range(5):  # 2.5 s, the ack wait is 1 s; "kept" is marked in progress
        await source.settle([kept.reply], PROGRESS)
        redelivered.extend(await source.fetch(3, 0.5, 2**20))
    assert {m.data for m in redelivered} == {b"dropped"}
    assert parse_ack_subject(redelivered[0].reply).delivered == 2
    assert await source.settle([m.reply for m in redelivered] + [kept.reply])
    assert await lag_settles(nc, spec) == (0, 0)
    await source.close()


async def test_a_deleted_consumer_ends_the_request_and_is_created_again(
    nc: NatsClient, drone: str
) -> None:
    spec = spec_for(drone)
    js = nc.jetstream()
    source = PullConsumer(nc, spec)
    request = asyncio.create_task(source.fetch(1, 30.0, 2**20))

    async def waiting() -> bool:
        return await request_waiting(nc, spec)

    assert await within(5, waiting)
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
    assert await lag_settles(nc, spec) == (0, 0)
    await source.close()
