"""One pull consumer: a bounded ``fetch()`` and a continuous ``messages()``, on one engine.

Both send pull requests (``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``) built by one
function, each with its own reply subject under a private inbox, and a plain subscription
callback collects the answers. Why not nats-py's ``PullSubscription.fetch``: it awaits every
message through ``next_msg``, a task, a uuid and a timer per message (about 25 k messages/s on
the 2-core dev box, this engine about 55 k/s, ``benchmarks/archive_throughput.py``); and between
two fetches nothing is delivered.

* ``fetch(batch, max_wait_s, max_bytes)``: one request, for consumers that drain in bulk (the
  archive pipeline). Returns as soon as the batch is full or the server has no more.
* ``messages(batch=, max_wait_s=)``: a ``MessageStream`` that keeps at least ``batch`` messages
  of *credit* (requested, not yet delivered) open at all times, so JetStream pushes each message
  the moment it is stored: latency is one hop, throughput is not bound by round trips. Its
  requests carry an idle heartbeat; two missed heartbeats mean the requests are lost (server
  restarted) and they are made anew.

One status handler serves both: data messages (they have a reply subject) are kept whichever
request they answer, even a late one (they must be acknowledged); ``100`` is a heartbeat; any
other status (404 no messages, 408 expired, 409 batch completed, max bytes, leadership change)
ends only the request it answers, and returns its unused credit in ``Nats-Pending-Messages``
(a data message carries its stored subject, not the request's, so credit is counted in total:
one unit per message delivered). ``503`` or ``409 Consumer Deleted``: the consumer is created
again, at most every 0.1 s doubling to 2 s until it answers (a consumer another process has just
created can answer 503 for a moment; a missing stream must not flood the server). After a
reconnect the open requests are forgotten and the consumer checked, and so it is when nothing
was delivered for a while though the server holds messages for it (``stall``). Server errors
while a leader is elected wait the same backoff, never spin. Messages in hand are
bounded (about ``4 * batch``), and ``close`` naks those never handed over, so another consumer
gets them at once instead of after ``ack_wait``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from peaceland.stream.consumer.ack import ACK, NAK
from peaceland.stream.consumer.request import Backoff, next_subject, pull_request
from peaceland.stream.consumer.spec import ConsumerSpec, Lag, consumer_lag, ensure_consumer
from peaceland.stream.consumer.stall import StallWatch

log = logging.getLogger(__name__)

#: Extra seconds beyond a request's expiry before the client stops waiting for its end.
REQUEST_GRACE_S: Final = 1.0
_STATUS: Final = "Status"
_HEARTBEAT: Final = "100"
_PENDING_MESSAGES: Final = "Nats-Pending-Messages"


class PullEngine:
    """Requests, answers and consumer (re)creation shared by durable and ordered consumers.

    Subclasses say how the consumer is created (``_create``) and may check each data message
    before it is kept (``_accept``).
    """

    def __init__(
        self, nc: NatsClient, stream: str, name: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.nc = nc
        self.stream = stream
        self.name = name
        self.clock = clock
        self._api = next_subject(stream, name)
        self._inbox = ""
        self._sub: Subscription | None = None
        self._serial = 0
        self._credit = 0  # messages requested and not yet delivered
        self._fetching = ""  # reply subject of the bounded request under way
        self._fetch_over = False
        self._buffer: collections.deque[Msg] = collections.deque()
        self._wake = asyncio.Event()
        self._ready = False  # the consumer is believed to exist
        self._backoff = Backoff(clock=clock)
        self._last_heard = clock()
        self._stall = StallWatch(clock)
        self._reconnects = nc.stats["reconnects"]
        self._on_data: Callable[[], Awaitable[None]] | None = None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def requests(self) -> int:
        """Pull requests sent so far."""
        return self._serial

    @property
    def credit(self) -> int:
        """Messages requested and not yet delivered."""
        return self._credit

    async def _create(self) -> None:
        raise NotImplementedError

    def _accept(self, msg: Msg) -> bool:
        return True

    def _lost(self, why: str) -> None:
        """The consumer may be gone: forget the open requests, create it again."""
        if self._ready:
            log.warning("consumer %s on %s: %s", self.name, self.stream, why)
        self._ready = False
        self._credit = 0
        self._wake.set()

    async def _ensure(self) -> bool:
        """Subscription and consumer in place; False when the consumer cannot be had yet."""
        reconnects = self.nc.stats["reconnects"]
        if reconnects != self._reconnects:  # open requests may have died with the connection
            self._reconnects = reconnects
            self._lost("reconnected")
        if self._sub is None:
            self._inbox = self.nc.new_inbox()
            self._sub = await self.nc.subscribe(self._inbox + ".*", cb=self._on_msg)
        if self._ready:
            return True
        if not self._backoff.ready():
            return False
        try:
            await self._create()
        except (NatsError, TimeoutError) as exc:  # server restarting, stream missing: retry
            log.warning("cannot create consumer %s on %s: %s", self.name, self.stream, exc)
            return False
        self._ready = True
        self._credit = 0
        self._last_heard = self.clock()
        return True

    async def _request(
        self, batch: int, expires_s: float, *, max_bytes: int = 0, heartbeat_s: float = 0.0
    ) -> str | None:
        """Send one pull request; its reply subject, or None when it could not be sent."""
        self._serial += 1
        reply = f"{self._inbox}.{self._serial}"
        body = pull_request(batch, expires_s, max_bytes=max_bytes, heartbeat_s=heartbeat_s)
        self._credit += batch
        try:
            await self.nc.publish(self._api, body, reply=reply)
        except NatsError as exc:  # reconnecting, or closed
            self._credit -= batch
            log.debug("pull request on %s failed: %s", self.name, exc)
            return None
        return reply

    async def _on_msg(self, msg: Msg) -> None:
        self._last_heard = self.clock()
        if msg.reply:  # a data message (its subject is the stored one, not our inbox)
            self._credit = max(0, self._credit - 1)
            if not self._accept(msg):
                return
            self._backoff.reset()
            self._stall.delivered()
            self._buffer.append(msg)
            self._wake.set()
            if self._on_data is not None:
                await self._on_data()
            return
        headers = msg.headers or {}
        status = headers.get(_STATUS)
        if status is None or status == _HEARTBEAT:
            return
        # The request is over; its unused credit comes back in a header.
        try:
            unused = int(headers.get(_PENDING_MESSAGES, ""))
        except ValueError:
            unused = self._credit
        self._credit = max(0, self._credit - unused)
        if msg.subject == self._fetching:
            self._fetch_over = True
        description = headers.get("Description", "")
        if status == "503" or "consumer deleted" in description.lower():
            self._lost(f"{status} {description}")
        else:
            self._backoff.reset()  # the consumer answers: all is well
            log.debug("pull request on %s ended: %s %s", self.name, status, description)
        self._wake.set()

    async def _check_stall(self) -> None:
        if self._ready and (why := await self._stall.check(self.nc, self.stream, self.name)):
            self._lost(why)

    def _take(self, limit: int) -> list[Msg]:
        take = min(limit, len(self._buffer))
        return [self._buffer.popleft() for _ in range(take)]

    async def _wait(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def fetch(self, batch: int, max_wait_s: float, max_bytes: int = 0) -> list[Msg]:
        """Up to ``batch`` messages (and about ``max_bytes``, 0: no limit), waiting at most
        ``max_wait_s`` for the first; returns as soon as the batch is full or the server has
        no more."""
        want = max(1, batch)
        if len(self._buffer) >= want:
            return self._take(want)
        if not await self._ensure():
            await asyncio.sleep(min(max_wait_s, self._backoff.remaining(), 0.5))
            return self._take(want)
        reply = await self._request(want - len(self._buffer), max_wait_s, max_bytes=max_bytes)
        if reply is None:
            await asyncio.sleep(min(max_wait_s, 0.5))
            return self._take(want)
        self._fetching, self._fetch_over = reply, False
        deadline = self.clock() + max_wait_s + REQUEST_GRACE_S
        while not self._fetch_over and len(self._buffer) < want:
            left = deadline - self.clock()
            if left <= 0:
                if not self._buffer:
                    self._lost("no answer to a pull request")
                break
            await self._wait(left)
        if not self._buffer:
            await self._check_stall()
        return self._take(want)

    def messages(
        self,
        *,
        batch: int,
        max_wait_s: float,
        expires_s: float = 30.0,
        heartbeat_s: float = 5.0,
    ) -> MessageStream:
        """Continuous delivery with ``batch`` messages of credit kept open; see the module."""
        return MessageStream(self, batch, max_wait_s, expires_s, heartbeat_s)

    async def close(self) -> None:
        """Stop receiving; nak what was delivered but never handed over."""
        self._on_data = None
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except NatsError as exc:
                log.debug("unsubscribe: %s", exc)
        self._credit = 0
        leftovers, self._buffer = self._buffer, collections.deque()
        await self._nak(leftovers)

    async def _nak(self, msgs: Sequence[Msg]) -> None:
        for msg in msgs:
            with contextlib.suppress(NatsError, TimeoutError):
                await self.nc.publish(msg.reply, NAK)


class PullConsumer(PullEngine):
    """A durable pull consumer (created from ``spec`` when missing); several processes may
    share the durable, JetStream hands each message to one of them."""

    def __init__(
        self, nc: NatsClient, spec: ConsumerSpec, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(nc, spec.stream, spec.durable, clock)
        self.spec = spec

    async def _create(self) -> None:
        await ensure_consumer(self.nc.jetstream(), self.spec)

    async def settle(self, replies: Sequence[str], verdict: bytes = ACK) -> bool:
        """Send ``verdict`` for each message and wait until the server has them all.

        False when that could not be confirmed (connection trouble): the messages not
        acknowledged will be delivered again, which every consumer tolerates by design.
        """
        publish = self.nc.publish
        try:
            for reply in replies:
                await publish(reply, verdict)
            await self.nc.flush()
        except (NatsError, TimeoutError) as exc:
            log.warning("%s of %d messages unconfirmed: %s", verdict.decode(), len(replies), exc)
            return False
        return True

    async def lag(self) -> Lag | None:
        """The durable's lag, or None without the consumer."""
        return await consumer_lag(self.nc.jetstream(), self.spec)


class MessageStream:
    """Continuous delivery from a ``PullEngine``: ``next_batch()`` hands over what arrived,
    ``next()`` one message, ``async for`` every message until ``close()``."""

    def __init__(
        self,
        engine: PullEngine,
        batch: int,
        max_wait_s: float,
        expires_s: float,
        heartbeat_s: float,
    ) -> None:
        if batch < 1 or not 0 < heartbeat_s < expires_s:
            raise ValueError("need batch >= 1 and 0 < heartbeat_s < expires_s")
        self.engine = engine
        self.batch = batch
        self.max_wait_s = max_wait_s
        self.expires_s = expires_s
        self.heartbeat_s = heartbeat_s
        self._closed = False
        engine._on_data = self._top_up_after_data

    @property
    def buffered(self) -> int:
        return self.engine.buffered

    async def next_batch(self) -> list[Msg]:
        """The messages that arrived (at most ``batch``), waiting up to ``max_wait_s`` for the
        first; ``[]`` when none came."""
        engine = self.engine
        if not await engine._ensure():
            await asyncio.sleep(min(self.max_wait_s, engine._backoff.remaining()))
            return engine._take(self.batch)
        await self._top_up()
        if not engine._buffer:
            await engine._wait(self.max_wait_s)
        msgs = engine._take(self.batch)
        if not msgs:
            self._check_alive()
            await engine._check_stall()
        await self._top_up()
        return msgs

    async def next(self, timeout: float) -> Msg:
        """The next message; ``TimeoutError`` when none came within ``timeout``."""
        deadline = self.engine.clock() + timeout
        while not self.engine._buffer:
            if self._closed:
                raise TimeoutError("message stream closed")
            left = deadline - self.engine.clock()
            if left <= 0:
                raise TimeoutError(f"no message from {self.engine.name} in {timeout} s")
            if not await self.engine._ensure():
                await asyncio.sleep(min(left, self.engine._backoff.remaining()))
                continue
            await self._top_up()
            if not self.engine._buffer:
                await self.engine._wait(min(left, self.heartbeat_s))
                if not self.engine._buffer:
                    self._check_alive()
                    await self.engine._check_stall()
        msg = self.engine._buffer.popleft()
        await self._top_up()
        return msg

    async def __aiter__(self) -> AsyncIterator[Msg]:
        while not self._closed:
            for msg in await self.next_batch():
                yield msg

    async def close(self) -> None:
        self._closed = True
        await self.engine.close()

    async def _top_up_after_data(self) -> None:
        if self.engine.credit < self.batch:
            await self._top_up()  # here, not in next_batch: the server never runs dry

    async def _top_up(self) -> None:
        """Keep at least ``batch`` messages of credit open, in requests of ``batch``, unless
        ``2 * batch`` are already in hand (the caller is behind: let the server wait)."""
        engine = self.engine
        if not engine._ready or engine._sub is None or self._closed:
            return
        while engine.credit < self.batch and len(engine._buffer) < 2 * self.batch:
            reply = await engine._request(self.batch, self.expires_s, heartbeat_s=self.heartbeat_s)
            if reply is None:
                return

    def _check_alive(self) -> None:
        """No message nor heartbeat for two intervals: the open requests are gone."""
        engine = self.engine
        silent = engine.clock() - engine._last_heard
        if engine.credit and silent > 2 * self.heartbeat_s + 1:
            engine._lost(f"no heartbeat for {silent:.0f} s: renewing pull requests")
            engine._last_heard = engine.clock()
