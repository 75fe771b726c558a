"""Connecting to a three-node cluster with a URL list: dead servers are skipped, and the
credentials survive a reconnect to a peer learned from the cluster."""

from __future__ import annotations

import asyncio

import pytest
from cluster_helpers import closed_port, cluster_fixture, connected_node, eventually  # noqa: F401

from peaceland.contract import ServiceError
from peaceland.stream import connect, connect_once, probe_nats
from peaceland.testing.nats_cluster import NatsCluster

pytestmark = pytest.mark.slow


async def test_a_dead_first_url_is_skipped(cluster: NatsCluster) -> None:
    urls = f"nats://127.0.0.1:{closed_port()},{cluster.url_of('n2')}"
    # The probe's own settings, in list order: the pool is walked past the refused server.
    nc = await connect_once(
        urls, allow_reconnect=False, max_reconnect_attempts=1, dont_randomize=True
    )
    assert connected_node(cluster, nc) == "n2"
    await nc.close()
    for _ in range(4):  # connect() shuffles the list: the dead one comes first half the time
        nc = await connect(urls, "test-dead-first", connect_timeout=2.0)
        assert connected_node(cluster, nc) == "n2"
        await nc.close()
    probe = await asyncio.to_thread(probe_nats, urls, 5.0)
    assert probe.error is None


async def test_a_list_of_dead_servers_is_one_clear_error() -> None:
    urls = f"nats://127.0.0.1:{closed_port()},nats://127.0.0.1:{closed_port()}"
    with pytest.raises(ServiceError, match=r"cannot reach NATS at nats://127\.0\.0\.1"):
        await connect(urls, "test-all-dead", connect_timeout=1.0)


async def test_wrong_credentials_in_a_list_are_refused_as_such(cluster: NatsCluster) -> None:
    urls = ",".join(f"nats://{cluster.user}:wrong@{n.address}" for n in cluster.nodes)
    with pytest.raises(ServiceError, match="refused the credentials") as caught:
        await connect(urls, "test-wrong-password")
    assert "wrong" not in str(caught.value)


async def test_credentials_survive_a_reconnect_to_a_discovered_peer(
    cluster: NatsCluster,
) -> None:
    # Only n1 is named: n2 and n3 are learned from the cluster, without credentials.
    nc = await connect(cluster.url_of("n1"), "test-gossip")
    try:
        assert connected_node(cluster, nc) == "n1"
        assert await eventually(10, lambda: asyncio.sleep(0, len(nc.discovered_servers) == 2))
        await asyncio.to_thread(cluster.kill, "n1")

        async def works_elsewhere() -> bool:
            if not nc.is_connected or connected_node(cluster, nc) == "n1":
                return False
            await nc.jetstream(timeout=2.0).account_info()
            return True

        assert await eventually(30, works_elsewhere)
        assert nc.last_error is None or "authorization" not in str(nc.last_error).lower()
    finally:
        await nc.close()
