"""Alerts and incidents over HTTP.

* ``GET /api/v1/alerts?since=&limit=&status=&severity=&before=`` — recent alerts, newest first,
  read straight from the ALERTS stream. Each item is the alert plus ``seq`` (its stream
  sequence, also its SSE event id), ``status`` and ``incident_id``. ``limit`` 1..1000
  (default 100); ``before`` pages back: pass the answer's ``next_before``.
* ``GET /api/v1/incidents?status=&limit=`` — incidents, most recently seen first.
* ``GET /api/v1/incidents/<id>`` — one incident.
* ``POST /api/v1/incidents/<id>/ack`` and ``/resolve`` with ``{"by": "...", "note": "..."}``.

Errors are ``{"error": "..."}``: 400 for a bad parameter or a body that is not JSON, 422 for
JSON that is not a valid request, 404 for an unknown incident, 409 for an illegal transition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from aiohttp import web

from peaceland.contract import IllegalTransition, UnknownIncident
from peaceland.delivery import (
    Action,
    IncidentStore,
    Status,
    StoredAlert,
    decode_request,
    parse_alert_query,
    parse_incident_query,
    recent,
)
from peaceland.stream import NatsClient
from peaceland.web.auth import audited
from peaceland.web.responses import json_error, json_response

MAX_BODY_BYTES: Final = 16 * 1024
#: Stream messages one request may look at when filters reject most of them.
MAX_SCAN: Final = 50_000

STORE_KEY: Final = web.AppKey("incident_store", IncidentStore)
ALERTS_NC_KEY: Final = web.AppKey("alerts_nats", NatsClient)


async def list_alerts(request: web.Request) -> web.Response:
    try:
        query = parse_alert_query(request.query.items(), datetime.now(UTC))
    except ValueError as exc:
        return json_error(400, str(exc))
    store = request.app[STORE_KEY]
    statuses: dict[int, tuple[Status, str | None]] = {}

    async def select(chunk: Sequence[StoredAlert]) -> list[StoredAlert]:
        if query.severities is not None:
            chunk = [item for item in chunk if item.alert.severity in query.severities]
        found = await store.alert_statuses([(item.alert, item.seq) for item in chunk])
        statuses.update((item.seq, status) for item, status in zip(chunk, found, strict=True))
        if query.statuses is None:
            return list(chunk)
        return [item for item in chunk if statuses[item.seq][0] in query.statuses]

    page = await recent(
        request.app[ALERTS_NC_KEY],
        query.limit,
        before=query.before,
        since=query.since,
        select=select,
        max_scan=MAX_SCAN,
    )
    alerts: list[dict[str, Any]] = []
    for item in page.alerts:
        status, incident_id = statuses[item.seq]
        entry = msgspec.to_builtins(item.alert)
        entry.update(seq=item.seq, status=status, incident_id=incident_id)
        alerts.append(entry)
    return json_response(
        200,
        {
            "alerts": alerts,
            "count": len(alerts),
            "scanned": page.scanned,
            "next_before": page.next_before,
        },
    )


async def list_incidents(request: web.Request) -> web.Response:
    try:
        query = parse_incident_query(request.query.items())
    except ValueError as exc:
        return json_error(400, str(exc))
    incidents = await request.app[STORE_KEY].incidents(query.statuses, query.limit)
    return json_response(200, {"incidents": incidents, "count": len(incidents)})


async def get_incident(request: web.Request) -> web.Response:
    try:
        incident = await request.app[STORE_KEY].get(request.match_info["incident_id"])
    except UnknownIncident as exc:
        return json_error(404, str(exc))
    return json_response(200, incident)


async def _transition(request: web.Request, action: Action) -> web.Response:
    incident_id = request.match_info["incident_id"]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return json_error(413, f"body over the {MAX_BODY_BYTES}-byte limit")
    body = await request.read()
    try:
        change = decode_request(body)
    except msgspec.ValidationError as exc:
        return json_error(422, f"invalid request: {exc}; expected {{'by': name, 'note': text}}")
    except msgspec.DecodeError as exc:
        return json_error(400, f"body is not JSON: {exc}")
    try:
        incident = await request.app[STORE_KEY].act(incident_id, action, change.by, change.note)
    except UnknownIncident as exc:
        return json_error(404, str(exc))
    except IllegalTransition as exc:
        return json_error(409, str(exc))
    return await audited(request, f"incident.{action}", incident_id, json_response(200, incident))


async def ack_incident(request: web.Request) -> web.Response:
    return await _transition(request, "ack")


async def resolve_incident(request: web.Request) -> web.Response:
    return await _transition(request, "resolve")


def add_alert_routes(app: web.Application, nc: NatsClient, store: IncidentStore) -> None:
    app[ALERTS_NC_KEY] = nc
    app[STORE_KEY] = store
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/incidents", list_incidents)
    app.router.add_get("/api/v1/incidents/{incident_id}", get_incident)
    app.router.add_post("/api/v1/incidents/{incident_id}/ack", ack_incident)
    app.router.add_post("/api/v1/incidents/{incident_id}/resolve", resolve_incident)
