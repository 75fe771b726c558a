"""A private stack of real servers for tests and benchmarks: ``nats-server`` + ``weed``
started by ``services.up`` on free ports in a data directory, always torn down with
``services.down``, also when the caller or ``up`` fails.

    running_stack(data_dir) -> Stack    in a given directory (a pytest temp dir)
    private_stack() -> Stack            in a temp dir of its own (benchmarks)
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from peaceland.access import Role, TokenStore
from peaceland.config import Endpoints, ServicesState, Settings, load_settings, resolve_endpoints
from peaceland.servers import services
from peaceland.stream import NatsClient, connect, run_async
from peaceland.testing.processes import component_env

if TYPE_CHECKING:
    from aiohttp import ClientSession, web

    from peaceland.web.app import WebOptions

#: Test data is thrown away: no need to wait for weed's 16 s graceful stop.
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
        return component_env(self.data_dir, **extra)

    def kill(self, server: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send ``sig`` to one server or cluster node (``nats-2``); its pid."""
        return services.kill_service(self.settings, server, sig)

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
        # Imported here: the twins and the stack do not need the whole web app.
        from aiohttp import ClientSession
        from aiohttp.test_utils import TestServer

        from peaceland.web.app import WebOptions, create_app

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


async def create_token(nc: NatsClient, role: Role, label: str = "test") -> str:
    """A new API token of ``role`` in the stack's token store (a unique name per call)."""
    store = await TokenStore.open(nc.jetstream())
    name = f"{label}-{role.value}-{uuid.uuid4().hex[:12]}"
    token, _ = await store.create(name, role, label)
    return token


async def new_token(nats_url: str, role: Role, label: str = "bench") -> str:
    """``create_token`` on a connection of its own."""
    nc = await connect(nats_url, f"peaceland-{label}-token")
    try:
        return await create_token(nc, role, label)
    finally:
        await nc.close()


async def api_headers(nats_url: str, role: Role, label: str = "bench") -> dict[str, str]:
    """The ``Authorization`` header of a new API token of ``role``."""
    return {"Authorization": f"Bearer {await new_token(nats_url, role, label)}"}


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
def running_stack(
    data_dir: Path, grace: float = TEARDOWN_GRACE_S, *, nodes: int = 1
) -> Iterator[Stack]:
    """Servers for ``data_dir`` (``nodes`` ≥ 2: a cluster), one token per role; stopped
    (``grace`` s) on the way out."""
    settings = stack_settings(data_dir)
    try:
        state = services.up(settings, nodes=nodes, prefer_default_ports=False)
        # Also from a running event loop (the benchmarks start stacks inside one).
        tokens = run_async(lambda: create_role_tokens(state.nats_url))
        yield Stack(data_dir, settings, state, resolve_endpoints(settings), tokens)
    finally:
        services.down(settings, grace=grace)


@contextlib.contextmanager
def private_stack(grace: float = 5.0) -> Iterator[Stack]:
    """``running_stack`` in a temp dir of its own, removed afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="peaceland-bench-") as tmp,
        running_stack(Path(tmp) / "data", grace) as stack,
    ):
        yield stack
