"""Alerts on the wire: one per (report, citizen) whose peacescore is under the threshold,
JSON on ``peaceland.alerts.<drone_id>``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import msgspec

from peaceland.contract.errors import InvalidReport
from peaceland.contract.model import DECODE_ERRORS, Severity


class Alert(msgspec.Struct, frozen=True, gc=False):
    """One alert: a (report, citizen) whose peacescore is under the threshold."""

    alert_id: str
    report_id: str
    drone_id: str
    ts: datetime
    lat: float
    lon: float
    citizen: str
    peacescore: int
    severity: Severity
    words: list[str]
    raised_at: str


_ENCODER: Final = msgspec.json.Encoder()
_ALERT_DECODER: Final = msgspec.json.Decoder(Alert)


def encode_alert(alert: Alert) -> bytes:
    return _ENCODER.encode(alert)


def decode_alert(payload: bytes) -> Alert:
    """Decode an alert; raises ``InvalidReport`` ("not an alert: ...") and nothing else."""
    try:
        return _ALERT_DECODER.decode(payload)
    except DECODE_ERRORS as exc:
        raise InvalidReport(f"not an alert: {exc}") from None


def format_raised_at(when: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-11-28T10:15:00.000000Z``."""
    if when.utcoffset() is None:
        raise ValueError("raised_at must be timezone-aware")
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
