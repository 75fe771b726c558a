"""The names of the wire contract: streams, subjects, headers and limits.

Users, drones and acceptance checks rely on every name here; they change only with the
contract.
"""

from __future__ import annotations

REPORTS_STREAM = "REPORTS"
ALERTS_STREAM = "ALERTS"
DEADLETTER_STREAM = "DEADLETTER"
AUDIT_STREAM = "AUDIT"

REPORTS_PREFIX = "peaceland.reports."
ALERTS_PREFIX = "peaceland.alerts."
DEADLETTER_PREFIX = "peaceland.deadletter."
AUDIT_PREFIX = "peaceland.audit."

#: Durable consumers on REPORTS: components of the same name share the work.
ALERTER_DURABLE = "alerter"
ARCHIVER_DURABLE = "archiver"

#: Reply subjects of Peaceland's own services: drones may subscribe to ``_INBOX.`` subjects
#: (for their publish acknowledgements), never to these.
SERVICE_INBOX_PREFIX = "_PEACELAND_INBOX"
#: nats-py's default, the only prefix the fleet role may subscribe under.
DEFAULT_INBOX_PREFIX = "_INBOX"

ERROR_HEADER = "Peaceland-Error"
MSG_ID_HEADER = "Nats-Msg-Id"

#: Largest report payload accepted anywhere (contract: over 64 KiB is invalid).
MAX_PAYLOAD_BYTES = 64 * 1024

# Dedup window: a report re-sent within it is dropped by JetStream itself; later duplicates
# are removed by report_id downstream (archive views, alert ids).
DUPLICATE_WINDOW_S = 2 * 60 * 60.0
DAY_S = 24 * 60 * 60.0


def report_subject(drone_id: str) -> str:
    """Subject for a drone's reports. ``drone_id`` must already be validated (no ``.*> ``)."""
    return REPORTS_PREFIX + drone_id


def alert_subject(drone_id: str) -> str:
    return ALERTS_PREFIX + drone_id


def deadletter_subject(source: str) -> str:
    return DEADLETTER_PREFIX + source
