"""The Arrow schema and the row builder of each archived kind. Pure.

    REPORT_ROWS / ALERT_ROWS / DEADLETTER_ROWS     one ``RowFormat`` per kind
    REPORTS_SCHEMA / ALERTS_SCHEMA / DEADLETTER_SCHEMA

Columns beyond the contract views: ``stream_seq`` (the JetStream sequence, which names the
object and lets a reader reason about redeliveries) and, for reports and alerts,
``received_at`` (the JetStream timestamp of the message).
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from typing import Final

import msgspec
import pyarrow as pa

from peaceland.archive.rows import (
    CITIZEN,
    UTC_MICROS,
    Received,
    RowFormat,
    pick,
    received_at,
    stream_seqs,
    string_lists,
)
from peaceland.contract import (
    REPORTS_PREFIX,
    Alert,
    InvalidReport,
    Report,
    decode_alert,
    decode_report,
)

_JSON: Final = msgspec.json.Encoder()

# -- reports ----------------------------------------------------------------------------------

REPORTS_SCHEMA: Final = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("drone_id", pa.string(), nullable=False),
        pa.field("ts", UTC_MICROS, nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("citizens", pa.list_(CITIZEN), nullable=False),
        pa.field("words", pa.list_(pa.string()), nullable=False),
        pa.field("extra", pa.string()),  # JSON object of the unknown fields, null when none
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("stream_seq", pa.int64(), nullable=False),
    ]
)


def _report_columns(reports: list[Report], received: Received, kept: list[int]) -> list[pa.Array]:
    citizen_lists = [r.citizens for r in reports]
    citizens = list(itertools.chain.from_iterable(citizen_lists))
    citizen_offsets = pa.array([0, *itertools.accumulate(map(len, citizen_lists))], pa.int32())
    citizen_values = pa.StructArray.from_arrays(
        [
            pa.array([c.name for c in citizens], pa.string()),
            pa.array([c.peacescore for c in citizens], pa.int32()),
        ],
        fields=list(CITIZEN),
    )
    extra = [None if r.extra is None else _JSON.encode(r.extra) for r in reports]
    return [
        pa.array([r.report_id for r in reports], pa.string()),
        pa.array([r.drone_id for r in reports], pa.string()),
        pa.array([r.ts for r in reports], UTC_MICROS),
        pa.array([r.lat for r in reports], pa.float64()),
        pa.array([r.lon for r in reports], pa.float64()),
        pa.ListArray.from_arrays(citizen_offsets, citizen_values),
        string_lists([r.words for r in reports]),
        pa.array(extra, pa.string()),
        received_at(received, kept),
        stream_seqs(received, kept),
    ]


def _decode_report(payload: bytes, subject: str) -> Report:
    """A valid report sent on its own drone's subject, as the alerter requires too."""
    report = decode_report(payload)
    if subject != REPORTS_PREFIX + report.drone_id:
        raise InvalidReport(f"drone_id {report.drone_id!r} does not match the subject {subject!r}")
    return report


REPORT_ROWS: Final = RowFormat("reports", REPORTS_SCHEMA, _decode_report, _report_columns)


# -- alerts -----------------------------------------------------------------------------------

ALERTS_SCHEMA: Final = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("drone_id", pa.string(), nullable=False),
        pa.field("ts", UTC_MICROS, nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("citizen", pa.string(), nullable=False),
        pa.field("peacescore", pa.int32(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("words", pa.list_(pa.string()), nullable=False),
        pa.field("raised_at", UTC_MICROS, nullable=False),
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("stream_seq", pa.int64(), nullable=False),
    ]
)


@dataclasses.dataclass(frozen=True, slots=True)
class _ArchivedAlert:
    alert: Alert
    raised_at: datetime


def _decode_alert(payload: bytes, subject: str) -> _ArchivedAlert:
    alert = decode_alert(payload)
    try:
        raised_at = datetime.fromisoformat(alert.raised_at)
    except ValueError:
        raise InvalidReport(
            f"not an alert: raised_at {alert.raised_at!r} is not RFC 3339"
        ) from None
    if raised_at.utcoffset() is None or alert.ts.utcoffset() is None:
        raise InvalidReport("not an alert: ts and raised_at need a zone")
    return _ArchivedAlert(alert, raised_at)


def _alert_columns(
    items: list[_ArchivedAlert], received: Received, kept: list[int]
) -> list[pa.Array]:
    alerts = [item.alert for item in items]
    return [
        pa.array([a.alert_id for a in alerts], pa.string()),
        pa.array([a.report_id for a in alerts], pa.string()),
        pa.array([a.drone_id for a in alerts], pa.string()),
        pa.array([a.ts for a in alerts], UTC_MICROS),
        pa.array([a.lat for a in alerts], pa.float64()),
        pa.array([a.lon for a in alerts], pa.float64()),
        pa.array([a.citizen for a in alerts], pa.string()),
        pa.array([a.peacescore for a in alerts], pa.int32()),
        pa.array([a.severity for a in alerts], pa.string()),
        string_lists([a.words for a in alerts]),
        pa.array([item.raised_at for item in items], UTC_MICROS),
        received_at(received, kept),
        stream_seqs(received, kept),
    ]


ALERT_ROWS: Final = RowFormat("alerts", ALERTS_SCHEMA, _decode_alert, _alert_columns)


# -- dead letters -----------------------------------------------------------------------------

DEADLETTER_SCHEMA: Final = pa.schema(
    [
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # the subject's last token
        pa.field("reason", pa.string()),  # the Peaceland-Error header
        pa.field("payload", pa.binary(), nullable=False),  # untouched
        pa.field("stream_seq", pa.int64(), nullable=False),
    ]
)


def _raw(payload: bytes, subject: str) -> bytes:
    return payload  # anything is a valid dead letter


def _deadletter_columns(
    payloads: list[bytes], received: Received, kept: list[int]
) -> list[pa.Array]:
    subjects = pick(received.subjects, kept)
    return [
        received_at(received, kept),
        pa.array(subjects, pa.string()),
        pa.array([s.rpartition(".")[2] for s in subjects], pa.string()),
        pa.array(pick(received.reasons, kept), pa.string()),
        pa.array(payloads, pa.binary()),
        stream_seqs(received, kept),
    ]


DEADLETTER_ROWS: Final = RowFormat("deadletter", DEADLETTER_SCHEMA, _raw, _deadletter_columns)
