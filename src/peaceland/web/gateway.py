"""HTTP ingest: ``POST /api/v1/reports`` and ``GET /healthz``.

A report is answered 202 only once JetStream has acknowledged it, so nothing acknowledged to
a drone is ever lost; a retry of the same report is deduplicated by its ``Nats-Msg-Id``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import msgspec
from aiohttp import web

from peaceland.ingest import IngestPlan, plan_body
from peaceland.stream import GroupPublisher, NatsClient, Publisher
from peaceland.web.auth import caller_of

log = logging.getLogger(__name__)

SOURCE = "gateway"
PUBLISH_TIMEOUT_S = 10.0


@dataclasses.dataclass(slots=True)
class IngestCounters:
    requests: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    publish_failures: int = 0


NATS_KEY = web.AppKey("nats", NatsClient)
COUNTERS_KEY = web.AppKey("ingest_counters", IngestCounters)
BODY_LIMIT_KEY = web.AppKey("body_limit", int)
PUBLISHER_KEY = web.AppKey("publisher", GroupPublisher)


def _json(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.Response(
        status=status,
        body=msgspec.json.encode(body),
        content_type="application/json",
        headers=headers,
    )


def _error(status: int, message: str, **headers: str) -> web.Response:
    return _json(status, {"error": message}, **headers)


async def post_reports(request: web.Request) -> web.Response:
    app = request.app
    counters = app[COUNTERS_KEY]
    counters.requests += 1
    limit = app[BODY_LIMIT_KEY]
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"body is {request.content_length} bytes, over the {limit}-byte limit")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body is over the {limit}-byte limit")
    plan = plan_body(body, SOURCE, caller_of(request).drone_id)
    group = app[PUBLISHER_KEY]
    try:
        # Reports from concurrent requests go together as atomic batches (one fsync each);
        # the rare dead letters one by one.
        report_acks, dead_acks = await asyncio.gather(
            group.publish(plan.reports), group.publisher.publish_all(plan.deadletters)
        )
        results = [*report_acks, *dead_acks]
    except TimeoutError as exc:
        counters.publish_failures += 1
        log.warning("publish timed out: %s", exc)
        return _error(
            503,
            "stream unavailable: publish not acknowledged in time; retry",
            **{"Retry-After": "1"},
        )
    failures = [r for r in results if isinstance(r, Exception)]
    if failures:
        counters.publish_failures += 1
        log.warning(
            "publish failed for %d of %d messages: %s", len(failures), len(results), failures[0]
        )
        return _error(
            503,
            f"stream unavailable: {failures[0]!r}; retry (retries are deduplicated)",
            **{"Retry-After": "1"},
        )
    return _answer(plan, results[: len(plan.reports)], counters)


def _answer(plan: IngestPlan, report_acks: list[Any], counters: IngestCounters) -> web.Response:
    duplicates = sum(1 for ack in report_acks if getattr(ack, "duplicate", False))
    accepted = len(plan.reports)
    counters.accepted += accepted
    counters.duplicates += duplicates
    counters.rejected += len(plan.errors)
    errors = [{"index": e.index, "error": e.error} for e in plan.errors]
    if accepted == 0:
        single = None if plan.is_batch or not plan.errors else plan.errors[0]
        status = 413 if single is not None and single.too_large else 422
        message = single.error if single is not None else "no valid report"
        return _json(status, {"error": message, "accepted": 0, "errors": errors})
    return _json(202, {"accepted": accepted, "duplicates": duplicates, "errors": errors})


async def healthz(request: web.Request) -> web.Response:
    nc = request.app[NATS_KEY]
    if nc.is_connected:
        return _json(200, {"status": "ok", "nats": "connected"})
    return _json(503, {"status": "degraded", "nats": "disconnected"})


def add_gateway_routes(app: web.Application, nc: NatsClient, max_body_bytes: int) -> None:
    app[NATS_KEY] = nc
    app[BODY_LIMIT_KEY] = max_body_bytes
    # Concurrent requests share atomic batches: one fsync for many single-report requests.
    app[PUBLISHER_KEY] = Publisher(nc, timeout=PUBLISH_TIMEOUT_S).group()
    app[COUNTERS_KEY] = IngestCounters()
    app.router.add_post("/api/v1/reports", post_reports)
    app.router.add_get("/healthz", healthz)
