"""The stream edge: the only package that talks to NATS.

Connection, stream definitions and admin, publishing (single, atomic batches, grouped
requests), durable consumers (continuous and bounded pulls), readiness probes.
"""

from __future__ import annotations

from peaceland.stream.admin import (
    STREAMS,
    StreamSpec,
    create_missing_streams,
    ensure_streams,
    stream_message_counts,
)
from peaceland.stream.bus import OutMessage, deadletter_message, publish_all
from peaceland.stream.connection import connect, connect_once, redact
from peaceland.stream.consumer import ConsumerSpec, consumer_lag
from peaceland.stream.continuous import ContinuousConsumer
from peaceland.stream.probe import prepare_nats, probe_nats, wait_nats_login
from peaceland.stream.publishing import BatchWindow, GroupPublisher
from peaceland.stream.pull import ACK, PROGRESS, TERM, AckInfo, PullSource, parse_ack_subject

__all__ = [
    "ACK",
    "PROGRESS",
    "STREAMS",
    "TERM",
    "AckInfo",
    "BatchWindow",
    "ConsumerSpec",
    "ContinuousConsumer",
    "GroupPublisher",
    "OutMessage",
    "PullSource",
    "StreamSpec",
    "connect",
    "connect_once",
    "consumer_lag",
    "create_missing_streams",
    "deadletter_message",
    "ensure_streams",
    "parse_ack_subject",
    "prepare_nats",
    "probe_nats",
    "publish_all",
    "redact",
    "stream_message_counts",
    "wait_nats_login",
]
