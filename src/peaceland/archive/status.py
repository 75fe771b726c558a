"""``peaceland archive status``: per consumer, what is left to archive and what is archived.

Pending messages come from the durable consumers (JetStream consumer info); objects, rows and
bytes from a listing of the bucket (rows are in the object names, see
``archive.layout``), so any machine can answer, whichever archivers are running.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from peaceland.archive.archiver import DURABLE
from peaceland.archive.kinds import ARCHIVE_KINDS, KINDS, Kind
from peaceland.archive.layout import parse_object_key
from peaceland.config import Endpoints
from peaceland.contract import ServiceError
from peaceland.storage import ObjectStore, StoredObject
from peaceland.stream import ConsumerSpec, Lag, NatsError, connect_once, consumer_lag, redact


@dataclasses.dataclass(frozen=True, slots=True)
class KindStatus:
    kind: Kind
    stream: str
    durable: str
    #: Messages not yet delivered to any archiver; None when the consumer does not exist.
    pending: int | None
    #: Delivered to an archiver, not yet acknowledged (held in a batch or being written).
    in_flight: int | None
    objects: int
    rows: int
    bytes: int
    #: When the newest object was written, i.e. the last flush of any archiver.
    last_write: datetime | None
    #: Objects whose names do not say their row count (not written by an archiver).
    unnamed_objects: int = 0


def summarize(objects: list[StoredObject], key_prefix: str = "") -> tuple[int, int, int, int]:
    """(objects, rows, bytes, objects with unknown row count) of a listing."""
    rows = unnamed = 0
    for obj in objects:
        name = parse_object_key(obj.key, key_prefix)
        if name is None:
            unnamed += 1
        else:
            rows += name.rows
    return len(objects), rows, sum(o.size for o in objects), unnamed


async def archive_status(
    endpoints: Endpoints,
    store: ObjectStore,
    *,
    durable: str = DURABLE,
    key_prefix: str = "",
    kinds: tuple[Kind, ...] = KINDS,
) -> list[KindStatus]:
    """One line per kind. Raises ``StoreError`` when the bucket cannot be listed."""
    lags: dict[Kind, Lag | None] = {}
    try:
        nc = await connect_once(
            endpoints.nats_url,
            tls_ca=endpoints.nats_tls_ca,
            name="peaceland-archive-status",
            connect_timeout=3.0,
            allow_reconnect=False,
            max_reconnect_attempts=1,
        )
    except (NatsError, OSError) as exc:
        raise ServiceError(f"cannot reach NATS at {redact(endpoints.nats_url)}: {exc}") from None
    try:
        js = nc.jetstream(timeout=5.0)
        for kind in kinds:
            try:
                spec = ConsumerSpec(ARCHIVE_KINDS[kind].stream, durable)
                lags[kind] = await consumer_lag(js, spec)
            except (NatsError, TimeoutError):  # e.g. the stream does not exist
                lags[kind] = None
    finally:
        await nc.close()
    statuses = []
    for kind in kinds:
        listing = await store.list(ARCHIVE_KINDS[kind].prefix(key_prefix))
        count, rows, size, unnamed = summarize(listing, key_prefix)
        lag = lags[kind]
        statuses.append(
            KindStatus(
                kind=kind,
                stream=ARCHIVE_KINDS[kind].stream,
                durable=durable,
                pending=None if lag is None else lag.pending,
                in_flight=None if lag is None else lag.ack_pending,
                objects=count,
                rows=rows,
                bytes=size,
                last_write=max((o.last_modified for o in listing), default=None),
                unnamed_objects=unnamed,
            )
        )
    return statuses
