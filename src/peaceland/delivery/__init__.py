"""Delivery of alerts to officers: incidents (pure state machine, store, builder), the
alert log and its queries, webhooks.
"""

from __future__ import annotations

from peaceland.delivery.alert_log import (
    ALL_ALERTS,
    StoredAlert,
    follow,
    read_range,
    recent,
    stored_alert,
    stream_bounds,
)
from peaceland.delivery.alert_query import (
    parse_alert_query,
    parse_event_id,
    parse_incident_query,
    parse_since,
)
from peaceland.delivery.incident_builder import BuilderOptions, IncidentBuilder
from peaceland.delivery.incident_store import Conflict, IncidentStore
from peaceland.delivery.incidents import Action, Incident, Status, check_request, decode_request
from peaceland.delivery.webhooks import WebhookOptions, run_webhooks

__all__ = [
    "ALL_ALERTS",
    "Action",
    "BuilderOptions",
    "Conflict",
    "Incident",
    "IncidentBuilder",
    "IncidentStore",
    "Status",
    "StoredAlert",
    "WebhookOptions",
    "check_request",
    "decode_request",
    "follow",
    "parse_alert_query",
    "parse_event_id",
    "parse_incident_query",
    "parse_since",
    "read_range",
    "recent",
    "run_webhooks",
    "stored_alert",
    "stream_bounds",
]
