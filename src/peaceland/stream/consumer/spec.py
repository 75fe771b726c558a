"""Durable consumer settings, creation and lag; the reader is ``pull.PullConsumer``.

Several processes bound to the same durable share its messages (JetStream hands each message
to one fetcher), which is how alerters and archivers scale out. A message is acknowledged by
the caller only once its effect is durable; unacknowledged messages come back after
``ack_wait``, up to ``max_deliver`` times.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import NamedTuple

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str | None = None
    ack_wait_s: float = 30.0
    max_deliver: int = 10
    max_ack_pending: int = 50_000
    description: str = ""
    #: Where a new durable starts: ALL (the whole stream) or NEW (messages stored from now).
    deliver_policy: js_api.DeliverPolicy = js_api.DeliverPolicy.ALL

    def config(self) -> js_api.ConsumerConfig:
        return js_api.ConsumerConfig(
            durable_name=self.durable,
            description=self.description or None,
            deliver_policy=self.deliver_policy,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
            filter_subject=self.filter_subject,
            max_waiting=512,
        )


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create the durable consumer, or update its settings. Idempotent, safe to race."""
    await js.add_consumer(spec.stream, spec.config())


class Lag(NamedTuple):
    """How far a durable consumer is behind its stream (a tuple, so ``(0, 0)`` compares)."""

    pending: int  #: stored messages not yet delivered
    ack_pending: int  #: delivered, not yet acknowledged

    @property
    def total(self) -> int:
        return self.pending + self.ack_pending

    @classmethod
    def of(cls, info: js_api.ConsumerInfo) -> Lag:
        return cls(info.num_pending or 0, info.num_ack_pending or 0)


async def consumer_lag(js: JetStreamContext, spec: ConsumerSpec) -> Lag | None:
    """The lag of ``spec``'s durable; None if it does not exist."""
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        return None
    return Lag.of(info)
