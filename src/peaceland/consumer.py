"""Durable pull consumers on a stream, fetched in batches, that survive server restarts.

Several processes bound to the same durable share its messages (JetStream hands each message
to one fetcher), which is how alerters and archivers scale out. A message is acknowledged by
the caller only once its effect is durable; unacknowledged messages come back after
``ack_wait``, up to ``max_deliver`` times.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

# nats-py pull subscriptions are known to stall after a server restart: fetches time out
# while the consumer has messages pending. After this long without a message while the
# server reports pending ones, the subscription is re-created.
STALL_AFTER_S = 5.0


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


async def consumer_lag(js: JetStreamContext, spec: ConsumerSpec) -> tuple[int, int] | None:
    """(messages not yet delivered, delivered but not acknowledged); None if no consumer."""
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        return None
    return info.num_pending or 0, info.num_ack_pending or 0


class BatchConsumer:
    """Fetches batches from a durable consumer; returns ``[]`` when nothing came in time."""

    def __init__(
        self, js: JetStreamContext, spec: ConsumerSpec, *, batch: int, max_wait_s: float
    ) -> None:
        self.js = js
        self.spec = spec
        self.batch = batch
        self.max_wait_s = max_wait_s
        self._sub: JetStreamContext.PullSubscription | None = None
        self._last_message_at = time.monotonic()
        self._last_stall_check = time.monotonic()

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        if self._sub is None:
            await ensure_consumer(self.js, self.spec)
            self._sub = await self.js.pull_subscribe_bind(
                durable=self.spec.durable, stream=self.spec.stream
            )
        return self._sub

    async def _resubscribe(self, why: str) -> None:
        log.warning("re-creating pull subscription %s: %s", self.spec.durable, why)
        await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # the old subscription may be gone with its connection
                log.debug("unsubscribe failed: %s", exc)

    async def fetch(self) -> list[Msg]:
        try:
            sub = await self._subscribe()
            msgs = await sub.fetch(self.batch, timeout=self.max_wait_s)
        except (NatsTimeoutError, TimeoutError):
            await self._check_stall()
            return []
        except ConnectionClosedError:
            raise
        except Exception as exc:  # server restarting, stream not ready: retry shortly
            log.warning("fetch from %s failed: %s", self.spec.durable, exc)
            await self._resubscribe(str(exc))
            await asyncio.sleep(0.5)
            return []
        self._last_message_at = time.monotonic()
        return msgs

    async def _check_stall(self) -> None:
        now = time.monotonic()
        if now - self._last_message_at < STALL_AFTER_S or now - self._last_stall_check < 1.0:
            return
        self._last_stall_check = now
        try:
            lag = await consumer_lag(self.js, self.spec)
        except Exception as exc:
            log.debug("consumer info failed: %s", exc)
            return
        if lag is None or lag[0] > 0:
            await self._resubscribe(
                "consumer missing" if lag is None else f"{lag[0]} pending but none delivered"
            )

    async def lag(self) -> int:
        result = await consumer_lag(self.js, self.spec)
        return 0 if result is None else result[0] + result[1]

    async def close(self) -> None:
        await self._unsubscribe()
