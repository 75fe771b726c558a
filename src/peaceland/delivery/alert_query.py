"""Query parameters of the alert and incident endpoints (and ``--since`` of the CLI). Pure.

Every parser raises ``ValueError`` with a message fit for an HTTP 400 answer.

* ``parse_since(text, now)`` — the one time grammar of ``contract.times.parse_time``
  (RFC 3339 with a zone, a UTC date, an age such as ``15m``, or ``now``).
* ``parse_alert_query(pairs, now) -> AlertQuery`` — ``since, limit, status, severity, before``.
* ``parse_incident_query(pairs) -> IncidentQuery`` — ``status, limit``.
* ``parse_event_id(text)`` — a ``Last-Event-ID``: a stream sequence, ``>= 0``.

``status`` and ``severity`` take comma-separated values and may be repeated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Final, TypeVar

from peaceland.contract import Severity, parse_time
from peaceland.delivery.incidents import STATUSES, Status

_T = TypeVar("_T", bound=str)

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "major", "minor")


@dataclasses.dataclass(frozen=True, slots=True)
class AlertQuery:
    limit: int = DEFAULT_LIMIT
    since: datetime | None = None
    before: int | None = None
    statuses: frozenset[Status] | None = None
    severities: frozenset[Severity] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class IncidentQuery:
    limit: int = DEFAULT_LIMIT
    statuses: frozenset[Status] | None = None


def parse_since(text: str, now: datetime) -> datetime:
    """``since`` of the alert queries and of ``alerts tail``; ``InvalidTimeRange`` if bad."""
    return parse_time(text, now, "since")


def parse_event_id(text: str) -> int:
    """A ``Last-Event-ID`` header: the stream sequence of the last event the client saw."""
    return _integer("Last-Event-ID", text, 0, 2**63)


def _integer(name: str, text: str, low: int, high: int) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise ValueError(f"{name} must be an integer, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name} must be within {low}..{high}, got {value}")
    return value


def _choices(name: str, values: list[str], allowed: tuple[_T, ...]) -> frozenset[_T]:
    chosen: set[_T] = set()
    for value in (v.strip() for raw in values for v in raw.split(",")):
        match = next((a for a in allowed if a == value), None)
        if match is None:
            raise ValueError(f"{name} must be among {', '.join(allowed)}; got {value!r}")
        chosen.add(match)
    return frozenset(chosen)


def _collect(pairs: Iterable[tuple[str, str]], allowed: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        if key not in allowed:
            raise ValueError(f"unknown parameter {key!r}; known: {', '.join(allowed)}")
        found.setdefault(key, []).append(value)
    for key, values in found.items():
        if key not in ("status", "severity") and len(values) > 1:
            raise ValueError(f"{key} given {len(values)} times")
    return found


def _limit(found: dict[str, list[str]]) -> int:
    return _integer("limit", found["limit"][0], 1, MAX_LIMIT) if "limit" in found else DEFAULT_LIMIT


def parse_alert_query(pairs: Iterable[tuple[str, str]], now: datetime) -> AlertQuery:
    found = _collect(pairs, ("since", "limit", "status", "severity", "before"))
    return AlertQuery(
        limit=_limit(found),
        since=parse_since(found["since"][0], now) if "since" in found else None,
        before=_integer("before", found["before"][0], 1, 2**63) if "before" in found else None,
        statuses=_choices("status", found["status"], STATUSES) if "status" in found else None,
        severities=(
            _choices("severity", found["severity"], SEVERITIES) if "severity" in found else None
        ),
    )


def parse_incident_query(pairs: Iterable[tuple[str, str]]) -> IncidentQuery:
    found = _collect(pairs, ("status", "limit"))
    return IncidentQuery(
        limit=_limit(found),
        statuses=_choices("status", found["status"], STATUSES) if "status" in found else None,
    )
