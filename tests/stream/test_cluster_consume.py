"""A durable pull consumer through a SIGKILL of its leader: it keeps delivering, backs off
while the consumer has no leader, and every message is acknowledged; only acks in flight at
the kill can be lost (then the message comes back after ``ack_wait``, as designed)."""

from __future__ import annotations

import asyncio
import collections
import time

import pytest
from cluster_helpers import cluster_fixture, eventually  # noqa: F401

from peaceland.contract import MSG_ID_HEADER, REPORTS_STREAM
from peaceland.stream import (
    ConsumerSpec,
    Lag,
    OutMessage,
    Publisher,
    PullConsumer,
    connect,
    ensure_consumer,
    ensure_streams,
)
from peaceland.testing.nats_cluster import NatsCluster

pytestmark = pytest.mark.slow

TOTAL = 600
BATCH = 50
SPEC = ConsumerSpec(
    REPORTS_STREAM, "failover", filter_subject="peaceland.reports.>", ack_wait_s=5.0
)


async def test_the_pull_consumer_delivers_across_a_leader_kill(cluster: NatsCluster) -> None:
    setup = await connect(cluster.url, "test-setup")
    js = setup.jetstream(timeout=10.0)
    await ensure_streams(js, 3)
    await ensure_consumer(js, SPEC)
    info = await js.consumer_info(SPEC.stream, SPEC.durable)
    assert info.cluster is not None
    leader = info.cluster.leader
    assert leader
    await setup.close()
    others = cluster.url_of(*[n.name for n in cluster.nodes if n.name != leader])
    nc = await connect(others, "test-consume")
    publisher = Publisher(nc, timeout=30.0)
    consumer = PullConsumer(nc, SPEC)
    stream = consumer.messages(batch=BATCH, max_wait_s=0.5, heartbeat_s=2.0)
    acked: collections.Counter[str] = collections.Counter()
    requests_before_kill = 0
    longest_gap, last_delivery = 0.0, time.monotonic()

    async def produce() -> None:
        for i in range(0, TOTAL, 20):
            batch = [
                OutMessage(f"peaceland.reports.d{i % 7}", b"r", msg_id=f"m{i + j}")
                for j in range(20)
            ]
            results = await publisher.publish_batched(batch)
            assert not [r for r in results if isinstance(r, Exception)]
            await asyncio.sleep(0.02)

    producer = asyncio.create_task(produce())
    try:
        deadline = time.monotonic() + 50
        while time.monotonic() < deadline and not (
            len(acked) == TOTAL and producer.done() and await lag_is(consumer, Lag(0, 0))
        ):
            if len(acked) >= TOTAL // 3 and not requests_before_kill:
                requests_before_kill = consumer.requests
                await asyncio.to_thread(cluster.kill, leader)
            msgs = await stream.next_batch()
            now = time.monotonic()
            if msgs:
                longest_gap, last_delivery = max(longest_gap, now - last_delivery), now
            if msgs and await consumer.settle([m.reply for m in msgs]):
                acked.update((m.headers or {}).get(MSG_ID_HEADER, "") for m in msgs)
        await producer
        assert len(acked) == TOTAL, f"{len(acked)} of {TOTAL} in 50 s"
        assert await lag_is(consumer, Lag(0, 0))  # every message acknowledged
        again = sum(n - 1 for n in acked.values())
        assert again <= BATCH  # at most the acks in flight when the leader died
        # Pull requests while electing: backed off, not a spin (~10,000 in 5 s without).
        assert consumer.requests - requests_before_kill < 500
        print(f"longest gap without a delivery {longest_gap:.1f} s, delivered again {again}")
    finally:
        producer.cancel()
        await stream.close()
        await nc.close()


async def lag_is(consumer: PullConsumer, expected: Lag) -> bool:
    return await consumer.lag() == expected
