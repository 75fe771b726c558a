"""Shared by the cluster tests: ``cluster`` (three nats-server nodes of one JetStream cluster
on loopback, private to the test: kill and restart nodes at will; always torn down), a closed
port, a node's name, waiting with a deadline. Import the fixture by name::

    from cluster_helpers import cluster_fixture  # noqa: F401
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from peaceland.stream import NatsClient
from peaceland.testing.nats_cluster import NatsCluster


@pytest.fixture(name="cluster")
async def cluster_fixture(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    nodes = NatsCluster(tmp_path / "cluster")
    try:
        await asyncio.to_thread(nodes.start_all)
        yield nodes
    finally:
        await asyncio.to_thread(nodes.stop_all)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def connected_node(cluster: NatsCluster, nc: NatsClient) -> str:
    """The name of the node ``nc`` is connected to."""
    url = nc.connected_url
    assert url is not None
    return next(n.name for n in cluster.nodes if n.port == url.port)


async def stream_leader(nc: NatsClient, stream: str) -> str:
    info = await nc.jetstream().stream_info(stream)
    assert info.cluster is not None
    assert info.cluster.leader
    return info.cluster.leader


async def eventually(seconds: float, check: Callable[[], Awaitable[bool]]) -> bool:
    """Whether ``check`` holds within ``seconds`` (polled every 100 ms; errors count as no)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if await check():
                return True
        except Exception:  # the cluster may be electing: ask again
            pass
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
