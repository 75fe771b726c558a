"""The stream edge: the only package that talks to NATS.

Connection, stream definitions and admin, publishing (single, atomic batches, grouped
requests), durable consumers (continuous and bounded pulls), readiness probes.
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
from peaceland.stream.consumer import ConsumerSpec, consumer_lag
from peaceland.stream.continuous import ContinuousConsumer
from peaceland.stream.probe import prepare_nats, probe_nats, wait_nats_login
from peaceland.stream.publishing import BatchWindow, GroupPublisher
from peaceland.stream.pull import ACK, PROGRESS, TERM, AckInfo, PullSource, parse_ack_subject

__all__ = [
    "ACK",
    "PROGRESS",
    "TERM",
    "AckInfo",
    "BatchWindow",
    "ConsumerSpec",
    "ContinuousConsumer",
    "GroupPublisher",
    "OutMessage",
    "PullSource",
    "connect",
    "consumer_lag",
    "create_missing_streams",
    "deadletter_message",
    "parse_ack_subject",
    "prepare_nats",
    "probe_nats",
    "publish_all",
    "redact",
    "use_tls_ca",
    "wait_nats_login",
]
