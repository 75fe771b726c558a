"""Shared fixtures: real servers started by ``peaceland.services.up`` on free ports, in temp dirs.

``stack``        one nats-server + weed for the whole session (never kill its servers)
``fresh_stack``  a private pair for one test: kill, restart, break it at will

Both are always torn down with ``services.down``, also when the test or ``up`` fails.
``stack.serve_app(...)`` serves the full web app on a test server against that stack: every
test that has a stack can use it, with no import across test directories.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from nats.aio.client import Client as NatsClient

from peaceland.access import Role, TokenStore
from peaceland.config import Endpoints, ServicesState, Settings, load_settings, resolve_endpoints
from peaceland.servers import services
from peaceland.stream import connect
from peaceland.web.app import WebOptions, create_app

# Test data is thrown away: no need to wait for weed's 16 s graceful stop.
TEARDOWN_GRACE_S = 2.0
#: The request body limit of the web app that ``Stack.serve_app`` serves, unless told.
BODY_LIMIT = 256 * 1024


@dataclasses.dataclass(frozen=True)
class Served:
    """The web app of ``Stack.serve_app``: its base URL (no trailing slash), the app's own
    NATS connection, and an HTTP session for the requests."""

    url: str
    nc: NatsClient
    http: ClientSession


@dataclasses.dataclass(frozen=True)
class Stack:
    """A running pair of embedded servers and how to reach them, with one API token per
    role (``token("viewer")``, ``auth("admin")`` for the header)."""

    data_dir: Path
    settings: Settings
    state: ServicesState
    endpoints: Endpoints
    tokens: dict[str, str] = dataclasses.field(default_factory=dict)

    def token(self, role: str) -> str:
        return self.tokens[role]

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """``peaceland ARGS`` in a subprocess on this stack; output captured as text."""
        return subprocess.run(
            [sys.executable, "-m", "peaceland", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def auth(self, role: str = "admin") -> dict[str, str]:
        """The ``Authorization`` header of the role's token."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a ``peaceland`` subprocess that uses this stack."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
        env["PEACELAND_DATA_DIR"] = str(self.data_dir)
        env.update(extra)
        return env

    def refreshed(self) -> Stack:
        """The same stack after an ``up`` (pids may have changed)."""
        state = services.up(self.settings, prefer_default_ports=False)
        return dataclasses.replace(self, state=state, endpoints=resolve_endpoints(self.settings))

    @contextlib.asynccontextmanager
    async def serve_app(
        self,
        options: WebOptions | None = None,
        *,
        role: Role | None = None,
        body_limit: int = BODY_LIMIT,
        prepare: Callable[[web.Application], None] | None = None,
    ) -> AsyncIterator[Served]:
        """The full application (``create_app``) on an aiohttp test server, on its own NATS
        connection to this stack; everything is closed on the way out.

        ``options``: by default no incident builder. ``role``: the session's requests carry a
        new API token of that role; without one they carry no ``Authorization`` header.
        ``prepare(app)`` runs before the server starts.
        """
        nc = await connect(self.endpoints.nats_url, "peaceland-test-web")
        try:
            app = await create_app(nc, body_limit, options or WebOptions(incident_builder=None))
            if prepare is not None:
                prepare(app)
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            try:
                headers: dict[str, str] = {}
                if role is not None:
                    headers["Authorization"] = f"Bearer {await create_token(nc, role)}"
                async with ClientSession(headers=headers) as http:
                    yield Served(str(server.make_url("")).rstrip("/"), nc, http)
            finally:
                await server.close()
        finally:
            await nc.drain()


async def create_token(nc: NatsClient, role: Role) -> str:
    """A new API token of ``role`` in the stack's token store (a unique name per call)."""
    store = await TokenStore.open(nc.jetstream())
    token, _ = await store.create(f"test-{role.value}-{uuid.uuid4().hex[:12]}", role, "tests")
    return token


async def create_role_tokens(nats_url: str) -> dict[str, str]:
    """One API token per role, named ``test-<role>``."""
    nc = await connect(nats_url, "peaceland-test-tokens")
    try:
        store = await TokenStore.open(nc.jetstream())
        tokens = {}
        for role in Role:
            tokens[role.value], _ = await store.create(f"test-{role.value}", role, "tests")
        return tokens
    finally:
        await nc.close()


def stack_settings(data_dir: Path) -> Settings:
    """Settings for ``data_dir`` alone: ignores the developer's PEACELAND_* and peaceland.toml."""
    return load_settings(environ={}, cwd=data_dir, data_dir=data_dir)


@contextlib.contextmanager
def running_stack(data_dir: Path) -> Iterator[Stack]:
    settings = stack_settings(data_dir)
    try:
        state = services.up(settings, prefer_default_ports=False)
        tokens = asyncio.run(create_role_tokens(state.nats_url))
        yield Stack(data_dir, settings, state, resolve_endpoints(settings), tokens)
    finally:
        services.down(settings, grace=TEARDOWN_GRACE_S)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path / "fresh") as running:
        yield running


@pytest.fixture
async def nc(stack: Stack) -> AsyncIterator[NatsClient]:
    """A plain client of the session's NATS, drained after the test."""
    client = await nats.connect(stack.endpoints.nats_url)
    try:
        yield client
    finally:
        await client.drain()
