"""The contract's streams: their definitions, idempotent creation, and message counts.

One registry (``STREAMS``) of every stream the product uses, created in one place; subjects
and stream names are part of the public contract.
"""

from __future__ import annotations

import dataclasses
import logging

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, NotFoundError

from peaceland.contract import (
    ALERTS_PREFIX,
    ALERTS_STREAM,
    AUDIT_PREFIX,
    AUDIT_STREAM,
    DAY_S,
    DEADLETTER_PREFIX,
    DEADLETTER_STREAM,
    DUPLICATE_WINDOW_S,
    MAX_PAYLOAD_BYTES,
    REPORTS_PREFIX,
    REPORTS_STREAM,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_s: float
    max_bytes: int
    description: str
    #: No message can be deleted or purged, and a full stream refuses new ones rather than
    #: dropping old ones (the audit log).
    append_only: bool = False


# Retention: REPORTS is a buffer in front of the archive, not the archive itself; 7 days (or
# 500 GiB) leaves room for a long storage outage. Sizes are ceilings, disk is the real limit.
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(REPORTS_STREAM, (REPORTS_PREFIX + ">",), 7 * DAY_S, 500 * 2**30, "raw reports"),
    StreamSpec(ALERTS_STREAM, (ALERTS_PREFIX + ">",), 30 * DAY_S, 50 * 2**30, "alerts raised"),
    StreamSpec(
        DEADLETTER_STREAM, (DEADLETTER_PREFIX + ">",), 30 * DAY_S, 50 * 2**30, "invalid input"
    ),
    # Kept forever (max_age 0); at ~300 bytes an entry, 10 GiB is tens of millions of actions.
    StreamSpec(
        AUDIT_STREAM, (AUDIT_PREFIX + ">",), 0.0, 10 * 2**30, "officer actions", append_only=True
    ),
)


def stream_config(spec: StreamSpec, replicas: int = 1) -> js_api.StreamConfig:
    return js_api.StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=js_api.RetentionPolicy.LIMITS,
        storage=js_api.StorageType.FILE,
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        # Dead letters keep the original payload, which may be larger than a valid report.
        max_msg_size=MAX_PAYLOAD_BYTES * 16,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        discard=js_api.DiscardPolicy.NEW if spec.append_only else js_api.DiscardPolicy.OLD,
        deny_delete=spec.append_only,
        deny_purge=spec.append_only,
        # Atomic batches are stored with one fsync: see peaceland.stream.publish.
        allow_atomic=True,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the contract's streams, or bring their limits up to date. Idempotent."""
    for spec in STREAMS:
        config = stream_config(spec, replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
            log.info("created stream %s", spec.name)
        else:
            await js.update_stream(config)


async def create_missing_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the contract's streams that do not exist; existing ones are left exactly as they
    are (an operator may have tuned replicas or limits). Safe when several processes race."""
    for spec in STREAMS:
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(stream_config(spec, replicas))
                log.info("created stream %s", spec.name)
            except BadRequestError:  # created meanwhile by another process
                pass


async def stream_message_counts(js: JetStreamContext) -> dict[str, int | None]:
    """Messages held by each contract stream; ``None`` for a stream that does not exist."""
    counts: dict[str, int | None] = {}
    for spec in STREAMS:
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            counts[spec.name] = None
        else:
            counts[spec.name] = info.state.messages
    return counts
