"""The HTTP application served by ``peaceland gateway``: ingest, alerts, incidents, SSE.

Routes (see each module):

* ``web.gateway``     ``POST /api/v1/reports``, ``GET /healthz``
* ``web.alerts_api``  ``GET /api/v1/alerts``, ``GET /api/v1/incidents[/<id>]``,
  ``POST /api/v1/incidents/<id>/ack|resolve``
* ``web.sse``         ``GET /api/v1/alerts/stream``

Background work started and stopped with the application: the SSE feed (one ordered consumer
on ALERTS per process) and the incident builder (durable ``incidents`` on ALERTS, shared by all
gateway processes). Running them here means no extra component to deploy: every gateway can
serve every officer, and state lives in JetStream, not in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from aiohttp import web
from nats.aio.client import Client as NatsClient

from peaceland.bus import connect, create_missing_streams
from peaceland.config import Settings, resolve_endpoints
from peaceland.incident_builder import BuilderOptions, IncidentBuilder
from peaceland.incident_store import IncidentStore
from peaceland.web.alerts_api import add_alert_routes
from peaceland.web.gateway import add_gateway_routes
from peaceland.web.server import serve
from peaceland.web.sse import HEARTBEAT_S, add_sse_routes

log = logging.getLogger(__name__)

RESTART_DELAY_S: Final = 2.0
STOP_TIMEOUT_S: Final = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class WebOptions:
    """``incident_builder=None`` serves the API without building incidents (another process
    does it); ``replicas``: of the INCIDENTS bucket when it is created."""

    incident_builder: BuilderOptions | None = dataclasses.field(default_factory=BuilderOptions)
    sse_heartbeat_s: float = HEARTBEAT_S
    replicas: int = 1


BUILDER_KEY: Final = web.AppKey("incident_builder", IncidentBuilder)


async def create_app(
    nc: NatsClient, max_body_bytes: int, options: WebOptions | None = None
) -> web.Application:
    """The full application on a connected client; streams and the bucket are created if
    missing."""
    options = options or WebOptions()
    js = nc.jetstream()
    await create_missing_streams(js, options.replicas)
    store = await IncidentStore.open(js, options.replicas)
    app = web.Application(client_max_size=max_body_bytes)
    add_gateway_routes(app, nc, max_body_bytes)
    add_alert_routes(app, js, store)
    add_sse_routes(app, js, options.sse_heartbeat_s)
    if options.incident_builder is not None:
        builder = IncidentBuilder(nc, store, options.incident_builder)
        app[BUILDER_KEY] = builder
        app.cleanup_ctx.append(_in_background(builder.run, "incident builder"))
    return app


def _in_background(
    run: Callable[[asyncio.Event], Awaitable[None]], name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running ``run(stop)`` while the app runs, restarted if it fails."""

    async def keep_running(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await run(stop)
            except Exception:
                log.exception("%s failed; restarting in %g s", name, RESTART_DELAY_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RESTART_DELAY_S)

    async def context(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(keep_running(stop), name=name)
        yield
        stop.set()
        try:
            await asyncio.wait_for(task, STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("%s did not stop within %g s", name, STOP_TIMEOUT_S)

    return context


async def run_web(
    settings: Settings, stop: asyncio.Event, options: WebOptions | None = None
) -> None:
    """``peaceland gateway``: serve the full application until ``stop`` is set."""
    endpoints = resolve_endpoints(settings)
    nc = await connect(endpoints.nats_url, "peaceland-gateway")
    try:
        app = await create_app(nc, settings.max_body_bytes, options)
        await serve(app, settings.http_host, settings.http_port, stop)
    finally:
        await nc.drain()
