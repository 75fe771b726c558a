"""Publishing through a SIGKILL of the stream's leader: single publishes, atomic batches and
grouped publishes are sent again with the same ``Nats-Msg-Id``, and each message is stored
exactly once."""

from __future__ import annotations

import asyncio
import time

import pytest
from cluster_helpers import cluster_fixture, stream_leader  # noqa: F401

from peaceland.contract import REPORTS_STREAM
from peaceland.stream import OutMessage, Publisher, PublishResult, connect, ensure_streams
from peaceland.testing.nats_cluster import NatsCluster

pytestmark = pytest.mark.slow

ROUNDS = 60
PER_ROUND = 10  # messages each way publishes per round


async def test_each_message_is_stored_once_across_a_leader_kill(cluster: NatsCluster) -> None:
    setup = await connect(cluster.url, "test-setup")
    await ensure_streams(setup.jetstream(timeout=10.0), 3)
    leader = await stream_leader(setup, REPORTS_STREAM)
    await setup.close()
    others = [n.name for n in cluster.nodes if n.name != leader]
    nc = await connect(cluster.url_of(*others), "test-publish")  # survives the kill
    publisher = Publisher(nc, timeout=30.0)
    group = publisher.group(max_batch=PER_ROUND)
    results: list[PublishResult] = []
    slowest = 0.0

    def messages(way: str, round_: int) -> list[OutMessage]:
        return [
            OutMessage(f"peaceland.reports.{way}", b"x", msg_id=f"{way}-{round_}-{i}")
            for i in range(PER_ROUND)
        ]

    try:
        for round_ in range(ROUNDS):
            if round_ == ROUNDS // 3:
                await asyncio.to_thread(cluster.kill, leader)
            started = time.monotonic()
            done = await asyncio.gather(
                publisher.publish_all(messages("single", round_)),
                publisher.publish_batched(messages("atomic", round_)),
                group.publish(messages("group", round_)),
            )
            slowest = max(slowest, time.monotonic() - started)
            results.extend(r for way in done for r in way)
        acks = [r for r in results if not isinstance(r, Exception)]
        assert len(acks) == len(results), [r for r in results if isinstance(r, Exception)][:3]
        info = await nc.jetstream().stream_info(REPORTS_STREAM)
        total = ROUNDS * PER_ROUND * 3
        assert info.state.messages == total  # none lost, none stored twice
        # A duplicate's ack names the original's sequence: one sequence per message.
        assert len({ack.seq for ack in acks}) == total
        assert await stream_leader(nc, REPORTS_STREAM) != leader
        assert slowest > 1.0  # the election was crossed, not missed
    finally:
        await nc.close()
