"""A durable pull consumer that keeps pull requests open, so messages arrive as they are stored.

nats-py's ``PullSubscription.fetch`` asks the server for messages each time it is called:
between two fetches nothing is delivered, and every fetch costs a round trip plus, in nats-py,
a task per message. ``ContinuousConsumer`` instead keeps enough *credit* (messages requested
but not yet delivered) open on the server at all times; JetStream pushes each new message to
the private inbox the moment it is stored, a callback buffers it, and ``fetch`` hands over
whatever has arrived. Latency is then one hop from the stream, and throughput is not bounded by
round trips.

Bookkeeping follows the pull protocol: each delivered message uses one unit of credit; a
request that ends (408 expired, 409 conflict) returns its unused credit in the
``Nats-Pending-Messages`` header. Requests carry an idle heartbeat: when neither message nor
heartbeat has come for two intervals (server restarted, requests lost), the credit is written
off and requests are made anew. Messages in hand are bounded (about ``4 * batch``), and ``close``
naks those never handed over, so another consumer gets them at once instead of after ack_wait.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from peaceland.stream.consumer import ConsumerSpec, consumer_lag, ensure_consumer

log = logging.getLogger(__name__)

STATUS = "Status"
PENDING_MESSAGES = "Nats-Pending-Messages"
JS_API_PREFIX = "$JS.API"


class ContinuousConsumer:
    """``fetch()`` returns the messages that arrived (at most
    ``batch``), waiting up to ``max_wait_s`` for the first one; ``[]`` when none came."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        spec: ConsumerSpec,
        *,
        batch: int,
        max_wait_s: float,
        expires_s: float = 30.0,
        heartbeat_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch < 1 or not 0 < heartbeat_s < expires_s:
            raise ValueError("need batch >= 1 and 0 < heartbeat_s < expires_s")
        self.nc = nc
        self.js = js
        self.spec = spec
        self.batch = batch
        self.max_wait_s = max_wait_s
        self.expires_s = expires_s
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self._buffer: collections.deque[Msg] = collections.deque()
        self._arrived = asyncio.Event()
        self._credit = 0
        self._sub: Subscription | None = None
        self._inbox = ""
        self._next_subject = f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{spec.stream}.{spec.durable}"
        self._last_heard = clock()
        self._consumer_gone = True
        self._reconnects = nc.stats["reconnects"]

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def fetch(self) -> list[Msg]:
        await self._ensure_flowing()
        if not self._buffer:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), self.max_wait_s)
        take = min(self.batch, len(self._buffer))
        msgs = [self._buffer.popleft() for _ in range(take)]
        if not msgs:
            self._check_alive()
        await self._top_up()
        return msgs

    async def lag(self) -> int:
        result = await consumer_lag(self.js, self.spec)
        return 0 if result is None else result[0] + result[1]

    async def close(self) -> None:
        """Stop receiving; nak what was delivered but never handed over."""
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        leftovers, self._buffer = self._buffer, collections.deque()
        for msg in leftovers:
            with contextlib.suppress(Exception):
                await msg.nak()
        self._credit = 0

    async def _ensure_flowing(self) -> None:
        reconnects = self.nc.stats["reconnects"]
        if reconnects != self._reconnects:  # open requests may have died with the connection
            self._reconnects = reconnects
            self._credit = 0
            self._consumer_gone = True
        if self._sub is None:
            self._inbox = self.nc.new_inbox()
            self._sub = await self.nc.subscribe(self._inbox, cb=self._on_message)
        if self._consumer_gone:
            try:
                await ensure_consumer(self.js, self.spec)
            except (NatsError, TimeoutError) as exc:  # server restarting: retry shortly
                log.warning("cannot create consumer %s: %s", self.spec.durable, exc)
                await asyncio.sleep(0.5)
                return
            self._consumer_gone = False
            self._credit = 0
            self._last_heard = self.clock()
        await self._top_up()

    async def _top_up(self) -> None:
        """Keep at least ``batch`` messages of credit open, in requests of ``batch``, unless
        ``2 * batch`` are already buffered (the caller is behind: let the server wait)."""
        if self._consumer_gone or self._sub is None:
            return
        while self._credit < self.batch and len(self._buffer) < 2 * self.batch:
            request = {
                "batch": self.batch,
                "expires": int(self.expires_s * 1e9),
                "idle_heartbeat": int(self.heartbeat_s * 1e9),
            }
            self._credit += self.batch
            try:
                await self.nc.publish(
                    self._next_subject, msgspec.json.encode(request), reply=self._inbox
                )
            except NatsError as exc:
                self._credit -= self.batch
                log.warning("pull request on %s failed: %s", self.spec.durable, exc)
                return

    def _check_alive(self) -> None:
        """No message nor heartbeat for two intervals: the open requests are gone."""
        silent = self.clock() - self._last_heard
        if self._credit and silent > 2 * self.heartbeat_s + 1:
            log.warning(
                "no heartbeat from %s for %.0f s: renewing pull requests", self.spec.durable, silent
            )
            self._credit = 0
            self._consumer_gone = True  # re-created if it was lost with the server
            self._last_heard = self.clock()

    async def _on_message(self, msg: Msg) -> None:
        self._last_heard = self.clock()
        headers = msg.headers
        status = headers.get(STATUS) if headers and not msg.reply else None
        if status is None:
            self._credit = max(0, self._credit - 1)
            self._buffer.append(msg)
            self._arrived.set()
            if self._credit < self.batch:
                await self._top_up()  # here, not in fetch: the server never runs dry
            return
        if status == "100":  # idle heartbeat (or flow control, unused for pulls)
            return
        assert headers is not None
        # 408 request expired, 409 conflict (consumer deleted, max waiting, ...): the request
        # is over; its unused credit is returned.
        try:
            unused = int(headers.get(PENDING_MESSAGES, ""))
        except ValueError:
            unused = self._credit
        self._credit = max(0, self._credit - unused)
        if status == "409":
            description = headers.get("Description", "")
            log.info("pull request on %s ended: 409 %s", self.spec.durable, description)
            if "deleted" in description.lower():
                self._consumer_gone = True
        self._arrived.set()  # wake fetch so it renews the requests
