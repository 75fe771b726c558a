"""``OrderedConsumer`` against a real nats-server: start positions, resets, a lost consumer."""

from __future__ import annotations

import nats
import pytest
from consumer_helpers import drone_fixture, nc_fixture, within  # noqa: F401
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from peaceland.contract import REPORTS_STREAM
from peaceland.stream import OrderedConsumer, Start

pytestmark = pytest.mark.slow


@pytest.fixture
def subject(drone: str) -> str:
    return "peaceland.reports." + drone


async def publish(nc: NatsClient, subject: str, payloads: range) -> list[int]:
    """Publish ``str(i)`` for each i; the stream sequences."""
    js = nc.jetstream()
    return [(await js.publish(subject, str(i).encode())).seq for i in payloads]


async def read(reader: OrderedConsumer, count: int) -> list[int]:
    stream = reader.messages(batch=4, max_wait_s=0.2, heartbeat_s=1.0)
    return [int((await stream.next(5.0)).data) for _ in range(count)]


async def test_reads_in_order_after_a_start_sequence(nc: NatsClient, subject: str) -> None:
    seqs = await publish(nc, subject, range(10))
    reader = OrderedConsumer(nc, REPORTS_STREAM, filter_subject=subject, start=Start.after(seqs[3]))
    try:
        info = await reader.start()
        assert info.num_pending == 6
        assert await read(reader, 6) == [4, 5, 6, 7, 8, 9]
        with pytest.raises(TimeoutError):
            await reader.messages(batch=4, max_wait_s=0.2, heartbeat_s=1.0).next(0.3)
    finally:
        await reader.close()


async def test_reset_resumes_after_the_last_message_seen(nc: NatsClient, subject: str) -> None:
    await publish(nc, subject, range(10))
    reader = OrderedConsumer(nc, REPORTS_STREAM, filter_subject=subject, start=Start.first())
    try:
        await reader.start()
        stream = reader.messages(batch=1, max_wait_s=0.2, heartbeat_s=1.0)
        first = [int((await stream.next(5.0)).data) for _ in range(3)]
        await reader.reset()
        rest = [int((await stream.next(5.0)).data) for _ in range(7)]
        assert first + rest == list(range(10))
        assert reader.resets == 1
    finally:
        await reader.close()


async def test_a_consumer_lost_before_its_first_message_does_not_replay_the_stream(
    nc: NatsClient, subject: str
) -> None:
    """What nats-py's own ordered consumer gets wrong: re-created from sequence 0."""
    await publish(nc, subject, range(5))
    reader = OrderedConsumer(nc, REPORTS_STREAM, filter_subject=subject)  # from now on
    try:
        await reader.start()
        stream = reader.messages(batch=4, max_wait_s=0.2, heartbeat_s=1.0)
        with pytest.raises(TimeoutError):
            await stream.next(0.3)
        await nc.jetstream().delete_consumer(REPORTS_STREAM, reader.name)
        await publish(nc, subject, range(5, 7))
        assert [int((await stream.next(10.0)).data) for _ in range(2)] == [5, 6]
        assert reader.resets >= 1
        with pytest.raises(TimeoutError):
            await stream.next(0.5)
    finally:
        await reader.close()


async def test_consume_calls_back_in_order_until_unsubscribed(nc: NatsClient, subject: str) -> None:
    seqs = await publish(nc, subject, range(3))
    reader = OrderedConsumer(nc, REPORTS_STREAM, filter_subject=subject, start=Start.after(seqs[0]))
    seen: list[int] = []

    async def on_msg(msg: Msg) -> None:
        seen.append(int(msg.data))

    await reader.start()
    consuming = reader.consume(on_msg, heartbeat_s=1.0)
    await publish(nc, subject, range(3, 5))

    async def four() -> bool:
        return len(seen) >= 4

    assert await within(5, four)
    name = reader.name
    await consuming.unsubscribe()
    assert seen == [1, 2, 3, 4]
    with pytest.raises(nats.js.errors.NotFoundError):  # deleted on close
        await nc.jetstream().consumer_info(REPORTS_STREAM, name)
