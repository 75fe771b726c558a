"""``GET /metrics`` (Prometheus) and ``GET /readyz`` for the HTTP process."""

from __future__ import annotations

from typing import Final

import msgspec
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from peaceland.runtime import metrics
from peaceland.stream import NatsClient, stream_message_counts

REGISTRY_KEY: Final = web.AppKey("metrics_registry", CollectorRegistry)
LAG_KEY: Final = web.AppKey("consumer_lag", metrics.ConsumerLag)
NC_KEY: Final = web.AppKey("metrics_nats", NatsClient)


async def get_metrics(request: web.Request) -> web.Response:
    app = request.app
    await app[LAG_KEY].refresh(app[NC_KEY].jetstream())
    body = metrics.render(app[REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


async def get_readyz(request: web.Request) -> web.Response:
    """Ready when NATS is connected and every contract stream answers."""
    nc = request.app[NC_KEY]
    problems: list[str] = []
    if not nc.is_connected:
        problems.append("nats disconnected")
    else:
        counts = await stream_message_counts(nc.jetstream())
        problems.extend(f"stream {name} missing" for name, n in counts.items() if n is None)
    status = 503 if problems else 200
    body = {"status": "ready" if not problems else "not ready", "problems": problems}
    return web.Response(
        status=status, body=msgspec.json.encode(body), content_type="application/json"
    )


def add_metrics_routes(app: web.Application, nc: NatsClient, *collectors: Collector) -> None:
    lag = metrics.ConsumerLag()
    app[NC_KEY] = nc
    app[LAG_KEY] = lag
    app[REGISTRY_KEY] = metrics.registry(lag, *collectors)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/readyz", get_readyz)
