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
from peaceland.stream.connection import connect, connect_once, redact
from peaceland.stream.consumer import ConsumerSpec, consumer_lag
from peaceland.stream.continuous import ContinuousConsumer
from peaceland.stream.kv import BucketSpec, open_bucket
from peaceland.stream.policy import Action, Decision, RetryPolicy, apply, deadletter_id
from peaceland.stream.probe import prepare_nats, probe_nats, wait_nats_login
from peaceland.stream.publish import (
    BatchWindow,
    GroupPublisher,
    OutMessage,
    Pending,
    Publisher,
    PublishResult,
    deadletter_message,
    in_atomic_batch,
)
from peaceland.stream.pull import ACK, PROGRESS, TERM, AckInfo, PullSource, parse_ack_subject
from peaceland.stream.types import (
    AckPolicy,
    BadRequestError,
    Bucket,
    BucketNotFoundError,
    ConsumerConfig,
    ConsumerInfo,
    DeliverPolicy,
    JetStreamContext,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    Msg,
    NatsClient,
    NatsError,
    NoKeysError,
    NotFoundError,
    PubAck,
    Subscription,
)

__all__ = [
    "ACK",
    "PROGRESS",
    "STREAMS",
    "TERM",
    "AckInfo",
    "AckPolicy",
    "Action",
    "BadRequestError",
    "BatchWindow",
    "Bucket",
    "BucketNotFoundError",
    "BucketSpec",
    "ConsumerConfig",
    "ConsumerInfo",
    "ConsumerSpec",
    "ContinuousConsumer",
    "Decision",
    "DeliverPolicy",
    "GroupPublisher",
    "JetStreamContext",
    "KeyDeletedError",
    "KeyNotFoundError",
    "KeyWrongLastSequenceError",
    "Msg",
    "NatsClient",
    "NatsError",
    "NoKeysError",
    "NotFoundError",
    "OutMessage",
    "Pending",
    "PubAck",
    "PublishResult",
    "Publisher",
    "PullSource",
    "RetryPolicy",
    "StreamSpec",
    "Subscription",
    "apply",
    "connect",
    "connect_once",
    "consumer_lag",
    "create_missing_streams",
    "deadletter_id",
    "deadletter_message",
    "ensure_streams",
    "in_atomic_batch",
    "open_bucket",
    "parse_ack_subject",
    "prepare_nats",
    "probe_nats",
    "redact",
    "stream_message_counts",
    "wait_nats_login",
]
