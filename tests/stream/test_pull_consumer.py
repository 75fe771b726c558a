"""``PullConsumer.messages`` (continuous delivery) against a real nats-server."""

from __future__ import annotations

import pytest
from consumer_helpers import (  # noqa: F401
    drone_fixture,
    first_batch,
    nc_fixture,
    request_waiting,
    spec_for,
    within,
)
from nats.aio.client import Client as NatsClient

from peaceland.stream import Lag, PullConsumer, consumer_lag

pytestmark = pytest.mark.slow


async def publish(nc: NatsClient, drone: str, count: int, first: int = 0) -> None:
    js = nc.jetstream()
    for i in range(first, first + count):
        await js.publish(f"peaceland.reports.{drone}", str(i).encode())


async def test_credit_stays_open_so_a_new_message_arrives_without_a_new_request(
    nc: NatsClient, drone: str
) -> None:
    spec = spec_for(drone)
    stream = PullConsumer(nc, spec).messages(batch=10, max_wait_s=0.2)
    try:
        assert await stream.next_batch() == []
        assert stream.engine.credit >= 10
        assert await request_waiting(nc, spec)  # the request is open on the server
        await publish(nc, drone, 1)
        got = await first_batch(stream, 20)
        assert [m.data for m in got] == [b"0"]
        assert stream.engine.credit >= 10  # topped up again
        await got[0].ack()
    finally:
        await stream.close()


async def test_two_streams_on_one_durable_share_messages_and_drain_it(
    nc: NatsClient, drone: str
) -> None:
    spec = spec_for(drone)
    await publish(nc, drone, 300)
    first = PullConsumer(nc, spec).messages(batch=20, max_wait_s=0.2)
    second = PullConsumer(nc, spec).messages(batch=20, max_wait_s=0.2)
    seen: list[bytes] = []
    try:
        for _ in range(100):
            if len(seen) >= 300:
                break
            for stream in (first, second):
                for msg in await stream.next_batch():
                    seen.append(msg.data)
                    await msg.ack()
    finally:
        await first.close()
        await second.close()
    assert sorted(seen, key=int) == [str(i).encode() for i in range(300)]

    async def drained() -> bool:
        return await consumer_lag(nc.jetstream(), spec) == Lag(0, 0)

    assert await within(5, drained)


async def test_close_naks_the_messages_never_handed_over(nc: NatsClient, drone: str) -> None:
    spec = spec_for(drone, ack_wait_s=60.0)
    await publish(nc, drone, 20)
    stream = PullConsumer(nc, spec).messages(batch=5, max_wait_s=1.0)
    handed = await stream.next_batch()
    assert len(handed) == 5

    async def all_delivered() -> bool:
        return stream.buffered >= 10

    assert await within(5, all_delivered)
    await stream.close()
    # The rest goes to the next consumer at once, not after the 60 s ack wait.
    other = PullConsumer(nc, spec)
    rest = await other.fetch(20, 2.0)
    assert sorted(int(m.data) for m in rest) == list(range(5, 20))
    assert await other.settle([m.reply for m in rest + handed])
    await other.close()


async def test_a_deleted_consumer_is_created_again_and_delivery_resumes(
    nc: NatsClient, drone: str
) -> None:
    spec = spec_for(drone)
    js = nc.jetstream()
    stream = PullConsumer(nc, spec).messages(batch=5, max_wait_s=0.2)

    async def waiting() -> bool:
        return await request_waiting(nc, spec)

    try:
        assert await stream.next_batch() == []
        assert await within(5, waiting)
        await js.delete_consumer(spec.stream, spec.durable)
        await publish(nc, drone, 1)
        got = await first_batch(stream, 50)  # 10 s at most; the 409 makes it far quicker
        assert [m.data for m in got] == [b"0"]
        await got[0].ack()
    finally:
        await stream.close()


async def test_two_missed_heartbeats_renew_the_requests(nc: NatsClient, drone: str) -> None:
    """Requests lost without a status (a server restart) are noticed by the missing
    heartbeats; the clock is ours, so the test need not wait 11 s."""
    now = [0.0]
    spec = spec_for(drone)
    stream = PullConsumer(nc, spec, clock=lambda: now[0]).messages(
        batch=5, max_wait_s=0.1, heartbeat_s=1.0
    )
    try:
        assert await stream.next_batch() == []
        requests_before = stream.engine.requests
        now[0] += 10.0  # silence far beyond 2 heartbeats
        assert await stream.next_batch() == []
        assert await stream.next_batch() == []
        assert stream.engine.requests > requests_before  # new requests were made
        await publish(nc, drone, 1)
        got = await first_batch(stream, 20)
        assert [m.data for m in got] == [b"0"]
        await got[0].ack()
    finally:
        await stream.close()


async def test_bounded_fetch_returns_at_most_the_batch(nc: NatsClient, drone: str) -> None:
    spec = spec_for(drone)
    await publish(nc, drone, 12)
    source = PullConsumer(nc, spec)
    try:
        first = await source.fetch(5, 1.0)
        second = await source.fetch(5, 1.0)
        third = await source.fetch(5, 0.5)
        assert [len(first), len(second), len(third)] == [5, 5, 2]
        assert await source.settle([m.reply for m in first + second + third])
        assert await source.lag() is not None
    finally:
        await source.close()
