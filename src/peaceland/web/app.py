"""The HTTP application served by ``peaceland gateway``: ingest, alerts, incidents, SSE.

Routes (see each module):

* ``web.gateway``     ``POST /api/v1/reports``, ``GET /healthz``
* ``web.alerts_api``  ``GET /api/v1/alerts``, ``GET /api/v1/incidents[/<id>]``,
  ``POST /api/v1/incidents/<id>/ack|resolve``
* ``web.sse``         ``GET /api/v1/alerts/stream``
* ``web.stats_api``   ``GET /api/v1/stats``, ``GET /api/v1/stats/<name>?since=&until=``
* ``web.drones_api``  ``GET /api/v1/drones/active?minutes=&limit=`` (the fleet view)
* ``web.dashboard``   ``/`` (the officers' dashboard), ``/static/``, ``GET /api/v1/config``
* ``web.metrics_api`` ``GET /metrics`` (Prometheus), ``GET /readyz``
* ``web.sql_api``     ``POST /api/v1/sql`` (read-only SQL over the archive)
* ``web.limits``      the per-client rate limit on every ``/api/v1/*`` route (429)
* ``web.auth``        the token check on every ``/api/v1/*`` route; ``/api/v1/session``,
  ``/api/v1/tokens``, ``/api/v1/audit``

Background work started and stopped with the application: the SSE feed (one ordered consumer
on ALERTS per process) and the incident builder (durable ``incidents`` on ALERTS, shared by all
gateway processes). Running them here means no extra component to deploy: every gateway can
serve every officer, and state lives in JetStream, not in the process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from aiohttp import web
from prometheus_client.registry import Collector

from peaceland.access import TokenStore
from peaceland.analytics import Archive
from peaceland.config import DEFAULT_ALERT_THRESHOLD, Settings, resolve_endpoints
from peaceland.delivery import BuilderOptions, IncidentBuilder, IncidentStore
from peaceland.runtime import (
    Backoff,
    CountersCollector,
    component_connection,
    counters_collector,
    keep_running,
)
from peaceland.stream import NatsClient, create_missing_streams
from peaceland.web.alerts_api import add_alert_routes
from peaceland.web.auth import add_auth
from peaceland.web.dashboard import add_dashboard_routes
from peaceland.web.drones_api import add_drone_routes
from peaceland.web.gateway import COUNTERS_KEY, add_gateway_routes
from peaceland.web.limits import LIMITER_KEY, RateLimit, add_rate_limits
from peaceland.web.metrics_api import add_metrics_routes
from peaceland.web.openapi_api import add_openapi_routes
from peaceland.web.server import serve, tls_context
from peaceland.web.sql_api import add_sql_routes
from peaceland.web.sse import HEARTBEAT_S, add_sse_routes
from peaceland.web.stats_api import add_stats_routes

log = logging.getLogger(__name__)

#: Restarts of background work that failed (the incident builder).
RESTART: Final = Backoff()
#: Where browsers accept a Secure cookie over plain HTTP.
LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
STOP_TIMEOUT_S: Final = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class WebOptions:
    """``incident_builder=None`` serves the API without building incidents (another process
    does it); ``replicas``: of the INCIDENTS bucket when it is created; ``archive``: where
    ``/api/v1/stats`` reads (``None``: those routes answer 503)."""

    incident_builder: BuilderOptions | None = dataclasses.field(default_factory=BuilderOptions)
    sse_heartbeat_s: float = HEARTBEAT_S
    replicas: int = 1
    archive: Archive | None = None
    alert_threshold: int = DEFAULT_ALERT_THRESHOLD
    map_tiles_url: str | None = None  # the dashboard map's tiles (None: offline outlines)
    #: The session cookie's ``Secure`` flag: off only behind plain HTTP on a trusted network.
    secure_cookie: bool = True
    #: Requests per client on ``/api/v1/*`` (``None``: not limited; ``run_web`` uses settings).
    rate_limit: RateLimit | None = None


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
    tokens = await TokenStore.open(js, options.replicas)
    app = web.Application(client_max_size=max_body_bytes)
    add_rate_limits(app, options.rate_limit)
    add_auth(app, js, tokens, secure_cookie=options.secure_cookie)
    add_gateway_routes(app, nc, max_body_bytes)
    add_alert_routes(app, nc, store)
    add_sse_routes(app, nc, options.sse_heartbeat_s)
    add_stats_routes(app, options.archive, options.alert_threshold)
    add_sql_routes(app, options.archive)
    add_drone_routes(app, nc)
    add_dashboard_routes(app, options.map_tiles_url, options.alert_threshold)
    add_openapi_routes(app)
    collectors: list[Collector] = [counters_collector("gateway", app[COUNTERS_KEY])]
    limiter = app.get(LIMITER_KEY)
    if limiter is not None:  # peaceland_rate_limit_refused_total
        collectors.append(CountersCollector("rate_limit", lambda: {"refused": limiter.refused}))
    if options.incident_builder is not None:
        builder = IncidentBuilder(nc, store, options.incident_builder)
        app[BUILDER_KEY] = builder
        app.cleanup_ctx.append(_in_background(builder.run, "incident builder"))
        collectors.append(counters_collector("incidents", builder.counters))
    add_metrics_routes(app, nc, *collectors)
    return app


def _in_background(
    run: Callable[[asyncio.Event], Awaitable[None]], name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running ``run(stop)`` while the app runs, restarted if it fails."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(keep_running(name, run, stop, RESTART), name=name)
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
    async with component_connection(settings, "gateway", streams=False) as nc:
        options = options or WebOptions()
        if options.archive is None:
            options = dataclasses.replace(
                options, archive=Archive(endpoints), alert_threshold=settings.alert_threshold
            )
        if options.map_tiles_url is None:
            options = dataclasses.replace(options, map_tiles_url=settings.map_tiles_url)
        if options.rate_limit is None:
            limit = RateLimit(settings.rate_limit_per_s, settings.rate_limit_burst)
            options = dataclasses.replace(options, rate_limit=limit)
        ssl_context = tls_context(settings.http_tls_cert, settings.http_tls_key)
        if ssl_context is None and settings.http_host not in LOCAL_HOSTS:
            log.warning(
                "serving plain HTTP on %s: browsers keep the dashboard's Secure session cookie "
                "only over HTTPS or on localhost, and tokens cross the network in clear; set "
                "PEACELAND_HTTP_TLS_CERT and PEACELAND_HTTP_TLS_KEY or serve behind a TLS proxy",
                settings.http_host,
            )
        app = await create_app(nc, settings.max_body_bytes, options)
        await serve(app, settings.http_host, settings.http_port, stop, ssl_context)
