"""Incidents: the alerts of one citizen, grouped while officers deal with them. Pure.

Lifecycle (every other change is an ``IllegalTransition``)::

    open ──ack──► acknowledged ──resolve──► resolved
      └───────────────resolve──────────────────┘

An alert for a citizen whose latest incident is ``open`` or ``acknowledged`` attaches to it
(count, first/last seen, last known position, highest severity, alert ids) instead of paging
officers again; once that incident is ``resolved``, the next alert opens a new one.

State is one ``CitizenRecord`` per citizen: the citizen's latest incident, its generation
(1, 2, … one per incident) and the ids of recent alerts of earlier incidents. Incident ids are
``"<citizen key>-<generation>"``, the citizen key being 16 hex digits of the SHA-256 of the
name, so an id names its record and needs no index. ``attach`` is idempotent per ``alert_id``:
an alert delivered twice is counted once, also when an incident was resolved in between.

API:

* ``attach(record | None, alert, seq, now) -> Attached`` — the record after one alert (stream
  sequence ``seq``); ``Attached.archive`` is the resolved incident it replaces, if any.
* ``act(incident, action, by, note, now) -> Incident`` — ``"ack"`` or ``"resolve"``; raises
  ``IllegalTransition`` with a message for officers.
* ``act_on_record(record, incident_id, action, by, note, now) -> CitizenRecord`` — the same on
  the record holding the incident; raises ``UnknownIncident`` when it is not that record's latest.
* ``alert_status(record | None, alert_id, seq) -> (status, incident_id | None)``.
* ``citizen_key(name)``, ``incident_key``/``parse_incident_id``, ``decode_request(body)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from peaceland.contract import Alert, IllegalTransition, Severity, UnknownIncident

Status = Literal["open", "acknowledged", "resolved"]
Action = Literal["ack", "resolve"]
STATUSES: Final[tuple[Status, ...]] = ("open", "acknowledged", "resolved")
ACTIONS: Final[tuple[Action, ...]] = ("ack", "resolve")
SEVERITY_RANK: Final[dict[str, int]] = {"minor": 0, "major": 1, "critical": 2}

#: Alert ids kept per incident (the newest), and of earlier incidents per citizen: enough to
#: recognise any redelivery, which comes within minutes; ``count`` keeps counting beyond it.
MAX_ALERT_IDS: Final = 100
MAX_EARLIER_IDS: Final = 100
MAX_BY_CHARS: Final = 100
MAX_NOTE_CHARS: Final = 2000

_ID_RE: Final = re.compile(r"\A([0-9a-f]{16})-([1-9][0-9]{0,9})\Z")
_NEXT: Final[dict[tuple[Status, Action], Status]] = {
    ("open", "ack"): "acknowledged",
    ("open", "resolve"): "resolved",
    ("acknowledged", "resolve"): "resolved",
}


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """Who acknowledged or resolved an incident, when, and their note."""

    by: str
    at: datetime
    note: str | None = None


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    incident_id: str
    citizen: str
    status: Status
    severity: Severity  # the highest of its alerts
    peacescore: int  # the lowest of its alerts
    count: int
    first_seen: datetime  # report time of its earliest alert
    last_seen: datetime  # report time of its latest alert
    lat: float  # last known position: the latest report's
    lon: float
    drone_id: str
    opened_at: datetime
    updated_at: datetime
    first_seq: int  # ALERTS stream sequences of its alerts, lowest and highest
    last_seq: int
    alert_ids: tuple[str, ...]  # the newest MAX_ALERT_IDS, oldest first
    acknowledged: Change | None = None
    resolved: Change | None = None


class CitizenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What is stored per citizen: the latest incident and what is needed to build the next."""

    citizen: str
    generation: int
    incident: Incident
    earlier_alert_ids: tuple[str, ...] = ()


class TransitionRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/incidents/<id>/ack`` and ``/resolve``."""

    by: Annotated[str, Meta(min_length=1, max_length=MAX_BY_CHARS)]
    note: Annotated[str, Meta(max_length=MAX_NOTE_CHARS)] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Attached:
    """What one alert did: ``opened`` a new incident, was ``attached`` to the open one, or was a
    ``duplicate`` (``record`` unchanged). ``archive``: the resolved incident being replaced."""

    outcome: Literal["opened", "attached", "duplicate"]
    record: CitizenRecord
    archive: Incident | None = None


_REQUEST_DECODER: Final = msgspec.json.Decoder(TransitionRequest)


def decode_request(body: bytes) -> TransitionRequest:
    """Parse a transition body. ``msgspec.ValidationError`` for JSON that breaks the schema
    (HTTP 422), ``msgspec.DecodeError`` for anything that is not JSON (HTTP 400)."""
    request = _REQUEST_DECODER.decode(body)
    return check_request(request.by, request.note)


def check_request(by: str, note: str | None) -> TransitionRequest:
    """Validate an officer's name and note; ``msgspec.ValidationError`` when they break a rule."""
    by = by.strip()
    if not by or not by.isprintable():
        raise msgspec.ValidationError("`by` must be an officer's name: printable, not blank")
    if len(by) > MAX_BY_CHARS:
        raise msgspec.ValidationError(f"`by` must be at most {MAX_BY_CHARS} chars")
    if note is not None:
        note = note.strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise msgspec.ValidationError(f"`note` must be at most {MAX_NOTE_CHARS} chars")
    return TransitionRequest(by, note)


def citizen_key(citizen: str) -> str:
    """16 hex digits naming a citizen in keys and incident ids (their name may be anything)."""
    return hashlib.sha256(citizen.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def incident_key(key: str, generation: int) -> str:
    return f"{key}-{generation}"


def parse_incident_id(incident_id: str) -> tuple[str, int]:
    """(citizen key, generation); ``UnknownIncident`` for anything that is not an incident id."""
    match = _ID_RE.match(incident_id)
    if match is None:
        raise UnknownIncident(incident_id)
    return match[1], int(match[2])


def seen(record: CitizenRecord, alert_id: str) -> bool:
    return alert_id in record.incident.alert_ids or alert_id in record.earlier_alert_ids


def open_incident(citizen: str, generation: int, alert: Alert, seq: int, now: datetime) -> Incident:
    return Incident(
        incident_id=incident_key(citizen_key(citizen), generation),
        citizen=citizen,
        status="open",
        severity=alert.severity,
        peacescore=alert.peacescore,
        count=1,
        first_seen=alert.ts,
        last_seen=alert.ts,
        lat=alert.lat,
        lon=alert.lon,
        drone_id=alert.drone_id,
        opened_at=now,
        updated_at=now,
        first_seq=seq,
        last_seq=seq,
        alert_ids=(alert.alert_id,),
    )


def add_alert(incident: Incident, alert: Alert, seq: int, now: datetime) -> Incident:
    """The incident with one more alert; alerts may come in any order (several builders)."""
    latest = (alert.ts, seq) >= (incident.last_seen, incident.last_seq)
    severity = max(incident.severity, alert.severity, key=SEVERITY_RANK.__getitem__)
    return msgspec.structs.replace(
        incident,
        severity=severity,
        peacescore=min(incident.peacescore, alert.peacescore),
        count=incident.count + 1,
        first_seen=min(incident.first_seen, alert.ts),
        last_seen=max(incident.last_seen, alert.ts),
        lat=alert.lat if latest else incident.lat,
        lon=alert.lon if latest else incident.lon,
        drone_id=alert.drone_id if latest else incident.drone_id,
        updated_at=now,
        first_seq=min(incident.first_seq, seq),
        last_seq=max(incident.last_seq, seq),
        alert_ids=(*incident.alert_ids, alert.alert_id)[-MAX_ALERT_IDS:],
    )


def attach(record: CitizenRecord | None, alert: Alert, seq: int, now: datetime) -> Attached:
    """The citizen's record once ``alert`` (stream sequence ``seq``) is counted."""
    if record is None:
        incident = open_incident(alert.citizen, 1, alert, seq, now)
        return Attached(
            "opened", CitizenRecord(citizen=alert.citizen, generation=1, incident=incident)
        )
    if record.citizen != alert.citizen:  # 64-bit key collision: never merge two citizens
        raise ValueError(f"citizen key of {alert.citizen!r} already holds {record.citizen!r}")
    if seen(record, alert.alert_id):
        return Attached("duplicate", record)
    current = record.incident
    if current.status != "resolved":
        updated = msgspec.structs.replace(record, incident=add_alert(current, alert, seq, now))
        return Attached("attached", updated)
    generation = record.generation + 1
    earlier = (*record.earlier_alert_ids, *current.alert_ids)[-MAX_EARLIER_IDS:]
    new = CitizenRecord(
        citizen=record.citizen,
        generation=generation,
        incident=open_incident(alert.citizen, generation, alert, seq, now),
        earlier_alert_ids=earlier,
    )
    return Attached("opened", new, archive=current)


def act(incident: Incident, action: Action, by: str, note: str | None, now: datetime) -> Incident:
    """Acknowledge or resolve; ``IllegalTransition`` says why not when the status forbids it."""
    target = _NEXT.get((incident.status, action))
    if target is None:
        raise IllegalTransition(_refusal(incident, action))
    change = Change(by=by, at=now, note=note)
    if action == "ack":
        return msgspec.structs.replace(incident, status=target, acknowledged=change, updated_at=now)
    return msgspec.structs.replace(incident, status=target, resolved=change, updated_at=now)


def _refusal(incident: Incident, action: Action) -> str:
    name = f"incident {incident.incident_id}"
    done = incident.resolved if incident.status == "resolved" else incident.acknowledged
    who = f" by {done.by} at {done.at.isoformat()}" if done is not None else ""
    if incident.status == action_status(action):
        return f"{name} is already {incident.status}{who}"
    verb = "acknowledged" if action == "ack" else "resolved"
    return f"{name} is {incident.status}{who}: it cannot be {verb} now"


def action_status(action: Action) -> Status:
    return "acknowledged" if action == "ack" else "resolved"


def act_on_record(
    record: CitizenRecord,
    incident_id: str,
    action: Action,
    by: str,
    note: str | None,
    now: datetime,
) -> CitizenRecord:
    """``act`` on the record's latest incident, which must be ``incident_id``."""
    if record.incident.incident_id != incident_id:
        raise UnknownIncident(incident_id)
    return msgspec.structs.replace(record, incident=act(record.incident, action, by, note, now))


def alert_status(
    record: CitizenRecord | None, alert_id: str, seq: int
) -> tuple[Status, str | None]:
    """The lifecycle status of one alert, and its incident's id when known.

    An alert not yet seen by the incident builder is ``open`` (or shares the status of the
    citizen's unresolved incident, which it will join); one older than the latest incident
    belongs to an earlier, hence resolved, incident.
    """
    if record is None:
        return "open", None
    incident = record.incident
    if alert_id in incident.alert_ids:
        return incident.status, incident.incident_id
    if alert_id in record.earlier_alert_ids or seq < incident.first_seq:
        return "resolved", None
    if seq <= incident.last_seq or incident.status != "resolved":
        return incident.status, incident.incident_id
    return "open", None
