"""The stream edge: the only package that talks to NATS.

Connection, stream definitions and admin, publishing (single, atomic batches, grouped
requests), consumers (one pull consumer with a bounded ``fetch`` and a continuous ``messages``;
an ordered reader), readiness probes.
"""

from __future__ import annotations

from peaceland.stream.bus import (
    OutMessage,
    connect,
    create_missing_streams,
    deadletter_message,
    publish_all,
    redact,
    use_tls_ca,
)
from peaceland.stream.consumer import (
    ACK,
    NAK,
    PROGRESS,
    TERM,
    AckInfo,
    ConsumerSpec,
    Consuming,
    Lag,
    MemoryMessage,
    MemoryStream,
    MessageStream,
    OrderedConsumer,
    PullConsumer,
    Start,
    consumer_lag,
    ensure_consumer,
    parse_ack_subject,
)
from peaceland.stream.probe import prepare_nats, probe_nats, wait_nats_login
from peaceland.stream.publishing import BatchWindow, GroupPublisher

__all__ = [
    "ACK",
    "NAK",
    "PROGRESS",
    "TERM",
    "AckInfo",
    "BatchWindow",
    "ConsumerSpec",
    "Consuming",
    "GroupPublisher",
    "Lag",
    "MemoryMessage",
    "MemoryStream",
    "MessageStream",
    "OrderedConsumer",
    "OutMessage",
    "PullConsumer",
    "Start",
    "connect",
    "consumer_lag",
    "create_missing_streams",
    "deadletter_message",
    "ensure_consumer",
    "parse_ack_subject",
    "prepare_nats",
    "probe_nats",
    "publish_all",
    "redact",
    "use_tls_ca",
    "wait_nats_login",
]
