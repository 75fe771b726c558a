"""Incident state in a JetStream key-value bucket, ``INCIDENTS``: the thin edge around
``peaceland.incidents``.

Keys::

    citizen.<citizen key>    CitizenRecord: a citizen's latest incident (any status)
    incident.<incident id>   a resolved incident replaced by a newer one of the same citizen

Every change is read → pure function → write with the revision that was read
(compare-and-set); a conflict (another gateway or builder wrote meanwhile) is retried on the
fresh value, so concurrent writers never lose an update. A resolved incident is copied to
``incident.<id>`` *before* its citizen record moves on, so it can always be found by id.

``KeyValue`` is the small interface the store needs; ``NatsKeyValue`` implements it on a
nats-py bucket and ``peaceland.testing.MemoryKeyValue`` is its in-memory twin for tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Final, Protocol, TypeVar

import msgspec

from peaceland.contract import Alert, ServiceError, UnknownIncident
from peaceland.delivery.incidents import (
    Action,
    CitizenRecord,
    Incident,
    Status,
    act,
    act_on_record,
    alert_status,
    attach,
    citizen_key,
    parse_incident_id,
)
from peaceland.stream import (
    INCIDENTS_BUCKET,
    JetStreamContext,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    open_bucket,
)
from peaceland.stream import Bucket as NatsBucket

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Defined in the stream's registry of buckets (``peaceland.stream.BUCKETS``).
BUCKET_SPEC: Final = INCIDENTS_BUCKET
BUCKET: Final = BUCKET_SPEC.name
CITIZEN_PREFIX: Final = "citizen."
ARCHIVE_PREFIX: Final = "incident."
MAX_ATTEMPTS: Final = 50
#: Concurrent reads when looking up the status of many alerts.
LOOKUPS_AT_ONCE: Final = 64

_record_decoder: Final = msgspec.json.Decoder(CitizenRecord)
_incident_decoder: Final = msgspec.json.Decoder(Incident)
_encode: Final = msgspec.json.Encoder().encode


class Conflict(Exception):
    """The key changed since it was read (or exists, for a create)."""


class KeyValue(Protocol):
    async def get(self, key: str) -> tuple[bytes, int] | None:
        """The value and its revision, or None for a missing key."""

    async def create(self, key: str, value: bytes) -> int:
        """Store under a new key; ``Conflict`` if it exists. Returns the revision."""

    async def update(self, key: str, value: bytes, revision: int) -> int:
        """Store if the key is still at ``revision``; ``Conflict`` otherwise."""

    async def put(self, key: str, value: bytes) -> int:
        """Store unconditionally."""

    async def values(self, prefix: str) -> list[bytes]:
        """The latest value of every key starting with ``prefix`` (ending with ``.``)."""


class NatsKeyValue:
    """``KeyValue`` on a nats-py JetStream bucket."""

    def __init__(self, bucket: NatsBucket, js: JetStreamContext) -> None:
        self.bucket = bucket
        self.js = js

    async def get(self, key: str) -> tuple[bytes, int] | None:
        try:
            entry = await self.bucket.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        return entry.value or b"", entry.revision or 0

    async def create(self, key: str, value: bytes) -> int:
        try:
            return await self.bucket.create(key, value)
        except KeyWrongLastSequenceError:
            raise Conflict(key) from None

    async def update(self, key: str, value: bytes, revision: int) -> int:
        try:
            return await self.bucket.update(key, value, last=revision)
        except KeyWrongLastSequenceError:
            raise Conflict(key) from None

    async def put(self, key: str, value: bytes) -> int:
        return await self.bucket.put(key, value)

    async def values(self, prefix: str) -> list[bytes]:
        # The keys come from the bucket's stream (one subject per key), then each value is read.
        # A nats-py watcher is not used: it may signal "no more values" before delivering
        # values the server had already sent (its consumer_info races the deliveries).
        subjects = f"$KV.{BUCKET}.{prefix}>"
        info = await self.js.stream_info(BUCKET_SPEC.stream, subjects_filter=subjects)
        keys = [subject[len(f"$KV.{BUCKET}.") :] for subject in info.state.subjects or {}]
        out: list[bytes] = []
        for start in range(0, len(keys), LOOKUPS_AT_ONCE):
            chunk = keys[start : start + LOOKUPS_AT_ONCE]
            for found in await asyncio.gather(*(self.get(key) for key in chunk)):
                if found is not None and found[0]:
                    out.append(found[0])
        return out


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class Recorded:
    outcome: str  # "opened", "attached" or "duplicate"
    incident_id: str


class IncidentStore:
    """Incidents on a ``KeyValue``; the clock is passed in for tests."""

    def __init__(self, kv: KeyValue, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.kv = kv
        self.clock = clock

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> IncidentStore:
        """Bind to ``INCIDENTS``, creating it when missing."""
        return cls(NatsKeyValue(await open_bucket(js, BUCKET_SPEC, replicas=replicas), js))

    async def _record(self, key: str) -> tuple[CitizenRecord | None, int | None]:
        found = await self.kv.get(CITIZEN_PREFIX + key)
        if found is None:
            return None, None
        value, revision = found
        try:
            return _record_decoder.decode(value), revision
        except msgspec.DecodeError as exc:
            raise ServiceError(f"incident record {CITIZEN_PREFIX}{key} is corrupt: {exc}") from None

    async def _write(self, key: str, record: CitizenRecord, revision: int | None) -> None:
        if revision is None:
            await self.kv.create(CITIZEN_PREFIX + key, _encode(record))
        else:
            await self.kv.update(CITIZEN_PREFIX + key, _encode(record), revision)

    async def record_alert(self, alert: Alert, seq: int) -> Recorded:
        """Count one alert (``seq``: its ALERTS stream sequence) in its citizen's incident."""
        key = citizen_key(alert.citizen)
        for attempt in range(MAX_ATTEMPTS):
            record, revision = await self._record(key)
            result = attach(record, alert, seq, self.clock())
            incident_id = result.record.incident.incident_id
            if result.outcome == "duplicate":
                return Recorded("duplicate", incident_id)
            if result.archive is not None:
                archived = result.archive
                await self.kv.put(ARCHIVE_PREFIX + archived.incident_id, _encode(archived))
            try:
                await self._write(key, result.record, revision)
            except Conflict:
                await _pause(attempt)
                continue
            return Recorded(result.outcome, incident_id)
        raise ServiceError(f"incident of {alert.citizen!r}: {MAX_ATTEMPTS} conflicting writes")

    async def get(self, incident_id: str) -> Incident:
        """The incident, whatever its status; ``UnknownIncident`` if there is none."""
        key, generation = parse_incident_id(incident_id)
        record, _ = await self._record(key)
        if record is not None and record.incident.incident_id == incident_id:
            return record.incident
        if record is None or generation > record.generation:
            raise UnknownIncident(incident_id)
        found = await self.kv.get(ARCHIVE_PREFIX + incident_id)
        if found is None:
            raise UnknownIncident(incident_id)
        return _incident_decoder.decode(found[0])

    async def act(self, incident_id: str, action: Action, by: str, note: str | None) -> Incident:
        """Acknowledge or resolve: ``UnknownIncident`` / ``IllegalTransition`` when refused."""
        key, _ = parse_incident_id(incident_id)
        for attempt in range(MAX_ATTEMPTS):
            record, revision = await self._record(key)
            if record is None or record.incident.incident_id != incident_id:
                # Not the citizen's latest: an archived one, which is resolved, so ``act``
                # refuses; or no incident at all, and ``get`` says so.
                act(await self.get(incident_id), action, by, note, self.clock())
                raise UnknownIncident(incident_id)  # only if an archived one were not resolved
            updated = act_on_record(record, incident_id, action, by, note, self.clock())
            try:
                await self._write(key, updated, revision)
            except Conflict:
                await _pause(attempt)
                continue
            return updated.incident
        raise ServiceError(f"incident {incident_id}: {MAX_ATTEMPTS} conflicting writes")

    async def incidents(
        self, statuses: Iterable[Status] | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents with one of ``statuses`` (all when None), most recently seen first."""
        wanted = set(statuses) if statuses is not None else None
        found: dict[str, Incident] = {}
        if wanted is None or "resolved" in wanted:
            for value in await self.kv.values(ARCHIVE_PREFIX):
                incident = _decode_or_none(_incident_decoder, value)
                if incident is not None:
                    found[incident.incident_id] = incident
        for value in await self.kv.values(CITIZEN_PREFIX):
            record = _decode_or_none(_record_decoder, value)
            if record is not None:
                found[record.incident.incident_id] = record.incident
        chosen = [i for i in found.values() if wanted is None or i.status in wanted]
        chosen.sort(key=lambda i: (i.last_seen, i.last_seq), reverse=True)
        return chosen[:limit]

    async def alert_statuses(
        self, alerts: Sequence[tuple[Alert, int]]
    ) -> list[tuple[Status, str | None]]:
        """For each (alert, stream sequence): its status and incident id (see ``alert_status``)."""
        keys = list({citizen_key(alert.citizen) for alert, _ in alerts})
        records: dict[str, tuple[CitizenRecord | None, int | None]] = {}
        for start in range(0, len(keys), LOOKUPS_AT_ONCE):
            chunk = keys[start : start + LOOKUPS_AT_ONCE]
            found = await asyncio.gather(*(self._record(key) for key in chunk))
            records.update(zip(chunk, found, strict=True))
        return [
            alert_status(records[citizen_key(alert.citizen)][0], alert.alert_id, seq)
            for alert, seq in alerts
        ]


def _decode_or_none(decoder: msgspec.json.Decoder[_T], value: bytes) -> _T | None:
    try:
        return decoder.decode(value)
    except msgspec.DecodeError as exc:
        log.warning("skipping a corrupt incident value: %s", exc)
        return None


async def _pause(attempt: int) -> None:
    """A short random wait before retrying a conflicting write, growing with the attempts."""
    await asyncio.sleep(random.uniform(0, min(0.001 * 2**attempt, 0.05)))
