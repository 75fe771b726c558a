"""The stream edge: NATS JetStream connection, stream definitions, publishing, dead letters.

Everything that talks to NATS goes through here, so a second backend (Kafka) can sit behind
the same few functions later. Subjects and stream names are part of the public contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NatsClient
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
    ERROR_HEADER,
    MAX_PAYLOAD_BYTES,
    MSG_ID_HEADER,
    REPORTS_PREFIX,
    REPORTS_STREAM,
    SERVICE_INBOX_PREFIX,
    ServiceError,
    deadletter_subject,
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
        # Atomic batches are stored with one fsync: see peaceland.publishing.
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


# The certificate authority NATS clients of this process trust for ``tls://`` URLs (None: the
# system's); set once at start-up from the settings (``use_tls_ca``).
_tls_ca: Path | None = None


def use_tls_ca(path: Path | None) -> None:
    global _tls_ca
    _tls_ca = path


def client_tls(url: str) -> ssl.SSLContext | None:
    """The TLS context for ``url``: verified against ``use_tls_ca``'s authority; ``None`` for
    ``nats://`` URLs."""
    if not url.lstrip().startswith("tls://"):
        return None
    try:
        return ssl.create_default_context(cafile=str(_tls_ca) if _tls_ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise ServiceError(
            f"cannot use {_tls_ca} as the NATS certificate authority: {exc}"
        ) from None


def redact(url: str) -> str:
    """A NATS URL without its credentials, fit for messages."""
    return re.sub(r"//[^@/,]*@", "//", url)


CLOSE_TIMEOUT_S = 2.0


async def connect_once(url: str, **options: Any) -> NatsClient:
    """``nats.connect``, closing the client when the connection fails: nats-py would leave
    its socket to the garbage collector."""
    client = NatsClient()
    try:
        await client.connect(url, **options)
    except BaseException:
        # Bounded: closing a half-open TLS transport can wait forever on the peer.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT_S)
        raise
    return client


async def connect(
    url: str,
    name: str,
    *,
    connect_timeout: float = 5.0,
    inbox_prefix: str = SERVICE_INBOX_PREFIX,
) -> NatsClient:
    """Connect with endless reconnects: a server restart must never end a component.

    The first connection fails fast with a one-line ``ServiceError`` when no server answers
    or the credentials are refused (nats-py would otherwise retry the initial connect
    forever). Services reply on ``SERVICE_INBOX_PREFIX``; publishers holding drone or fleet
    credentials pass their own ``inbox_prefix``.
    """

    async def quiet(exc: Exception) -> None:
        return None

    try:
        probe = await connect_once(
            url,
            name=name + "-probe",
            allow_reconnect=False,
            # nats-py walks the server list max_reconnect_attempts times even on a first
            # connect: once is enough for a probe.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            connect_timeout=connect_timeout,
            error_cb=quiet,
            inbox_prefix=inbox_prefix,
            tls=client_tls(url),
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        reason = str(exc) or type(exc).__name__
        if "authorization" in reason.lower():
            raise ServiceError(
                f"NATS at {redact(url)} refused the credentials ({reason}); check the "
                "user and password in the URL"
            ) from None
        raise ServiceError(
            f"cannot reach NATS at {redact(url)} ({reason}); is `peaceland up` running?"
        ) from None
    await probe.close()

    async def on_error(exc: Exception) -> None:
        log.warning("nats: %s", exc)

    client: list[NatsClient] = []

    async def on_disconnect() -> None:
        if client and (client[0].is_closed or client[0].is_draining):
            return  # our own close or drain, not an outage
        log.warning("nats: disconnected")

    async def on_reconnect() -> None:
        log.info("nats: reconnected")

    nc = await nats.connect(
        url,
        name=name,
        connect_timeout=connect_timeout,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        inbox_prefix=inbox_prefix,
        tls=client_tls(url),
    )
    client.append(nc)
    return nc


@dataclasses.dataclass(frozen=True, slots=True)
class OutMessage:
    subject: str
    payload: bytes
    msg_id: str | None = None
    headers: Mapping[str, str] | None = None

    def all_headers(self) -> dict[str, str] | None:
        headers = dict(self.headers) if self.headers else {}
        if self.msg_id is not None:
            headers[MSG_ID_HEADER] = self.msg_id
        return headers or None


async def publish_all(
    js: JetStreamContext, messages: Iterable[OutMessage], *, timeout: float = 10.0
) -> list[js_api.PubAck | Exception]:
    """Publish concurrently and wait for every JetStream acknowledgement.

    Returns, in input order, the ack or the exception for each message, so a caller can
    answer per item. A message is durable only when its ack is returned. Each publish is a
    request with its own timeout (nats-py's ``publish_async`` keeps a pending slot forever
    when the publish itself raises, which would slowly starve a long-running gateway).
    """
    batch = list(messages)
    if not batch:
        return []
    results = await asyncio.gather(
        *(
            js.publish(m.subject, m.payload, timeout=timeout, headers=m.all_headers())
            for m in batch
        ),
        return_exceptions=True,
    )
    return [r if isinstance(r, js_api.PubAck | Exception) else RuntimeError(r) for r in results]


def deadletter_message(source: str, payload: bytes, reason: str) -> OutMessage:
    """A dead letter: the payload untouched, the reason in the ``Peaceland-Error`` header."""
    # Header values are one line of text; keep the reason readable and bounded.
    clean = " ".join(reason.split())[:1000]
    return OutMessage(deadletter_subject(source), payload, headers={ERROR_HEADER: clean})
