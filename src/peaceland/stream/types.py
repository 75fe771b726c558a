"""The stream's vocabulary for the rest of Peaceland: the connection, message and bucket types,
the JetStream settings other packages name, and the errors they handle.

Other packages import these from ``peaceland.stream``, never from ``nats``: this module is the
one place that says which client library the stream runs on, so a second backend changes the
edge, not its users.
"""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy, PubAck
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue as Bucket

__all__ = [
    "AckPolicy",
    "BadRequestError",
    "Bucket",
    "BucketNotFoundError",
    "ConsumerConfig",
    "ConsumerInfo",
    "DeliverPolicy",
    "JetStreamContext",
    "KeyDeletedError",
    "KeyNotFoundError",
    "KeyWrongLastSequenceError",
    "Msg",
    "NatsClient",
    "NatsError",
    "NoKeysError",
    "NotFoundError",
    "PubAck",
    "Subscription",
]
