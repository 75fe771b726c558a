"""Shared fixtures: real servers started by ``peaceland.services.up`` on free ports, in temp dirs.

``stack``        one nats-server + weed for the whole session (never kill its servers)
``fresh_stack``  a private pair for one test: kill, restart, break it at will
``cluster``      a private 3-node cluster for one test (``up --nodes 3``): three NATS nodes,
                 three SeaweedFS masters, three volume servers, a filer and an S3 gateway

Both are ``peaceland.testing.Stack``s, always torn down with ``services.down``, also when the
test or ``up`` fails. ``stack.serve_app(...)`` serves the full web app on a test server
against that stack: every test that has a stack can use it, with no import across test
directories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient

from peaceland.testing import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path / "fresh") as running:
        yield running


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path / "cluster", nodes=3) as running:
        yield running


@pytest.fixture
async def nc(stack: Stack) -> AsyncIterator[NatsClient]:
    """A plain client of the session's NATS, drained after the test."""
    client = await nats.connect(stack.endpoints.nats_url)
    try:
        yield client
    finally:
        await client.drain()
