"""prepare_nats on a three-node cluster: R3 streams and buckets, replicas brought up to date on
streams, buckets an operator made left as they are."""

from __future__ import annotations

import asyncio
import time

import pytest
from cluster_helpers import cluster_fixture  # noqa: F401

from peaceland.stream import BUCKETS, STREAMS, TOKENS_BUCKET, connect, ensure_streams, open_bucket
from peaceland.stream import prepare_nats as prepare
from peaceland.testing.nats_cluster import NatsCluster

pytestmark = pytest.mark.slow


def prepare_nats(url: str, replicas: int) -> None:
    prepare(url, deadline=time.monotonic() + 45, died=None, context=str, replicas=replicas)


async def test_prepare_nats_makes_every_stream_and_bucket_r3(cluster: NatsCluster) -> None:
    await asyncio.to_thread(prepare_nats, cluster.url, 3)
    nc = await connect(cluster.url, "test-r3")
    try:
        js = nc.jetstream()
        for name in [s.name for s in STREAMS] + [b.stream for b in BUCKETS]:
            info = await js.stream_info(name)
            assert info.config.num_replicas == 3, name
            assert info.cluster is not None
            assert info.cluster.leader
            assert len(info.cluster.replicas or []) == 2, name
        assert {b.name for b in BUCKETS} == {
            "INCIDENTS",
            "TOKENS",
            "LEASES",
        }  # the contract's names
    finally:
        await nc.close()


async def test_replicas_of_streams_are_updated_existing_buckets_kept(
    cluster: NatsCluster,
) -> None:
    nc = await connect(cluster.url, "test-r1-to-r3")
    try:
        js = nc.jetstream(timeout=10.0)
        await ensure_streams(js, 1)
        await open_bucket(js, TOKENS_BUCKET, replicas=1)
        await asyncio.to_thread(prepare_nats, cluster.url, 3)
        for spec in STREAMS:
            assert (await js.stream_info(spec.name)).config.num_replicas == 3
        assert (await js.stream_info(TOKENS_BUCKET.stream)).config.num_replicas == 1
        await asyncio.to_thread(prepare_nats, cluster.url, 3)  # idempotent
        assert (await js.stream_info(STREAMS[0].name)).config.num_replicas == 3
    finally:
        await nc.close()
