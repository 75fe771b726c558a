"""Publishing many messages to one stream fast, with every one acknowledged.

With ``sync_interval: always`` JetStream fsyncs after each stored message, which caps plain
publishing at a few thousand messages per second on one disk (measured: ~5,000/s here). An
*atomic batch* (nats-server ≥ 2.12, stream ``allow_atomic``) is stored and synced as one
write: ~40,000 messages/s with the same durability. Every message of a committed batch is
durable once the commit is acknowledged; a batch that is not committed stores nothing.

JetStream refuses a whole batch when one of its ``Nats-Msg-Id`` is already in the duplicate
window; that batch is then published message by message, so duplicates are reported per
message exactly as with single publishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError

from peaceland.stream.bus import OutMessage, publish_all

log = logging.getLogger(__name__)

# nats-server refuses atomic batches of more than 1,000 messages.
MAX_BATCH = 1000
ERR_BATCH_DUPLICATE_MSG_ID = 10201


class _BatchError(msgspec.Struct):
    code: int
    err_code: int = 0
    description: str = ""


class _BatchAck(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    count: int = 0
    error: _BatchError | None = None


_ack_decoder = msgspec.json.Decoder(_BatchAck)


class BatchRefused(APIError):
    """JetStream refused an atomic batch; ``err_code`` says why."""


async def _publish_atomic(
    nc: NatsClient, messages: Sequence[OutMessage], timeout: float
) -> list[js_api.PubAck]:
    batch_id = nc.new_inbox().rsplit(".", 1)[-1]  # a NUID: unique, header-safe
    last = len(messages) - 1
    for index, msg in enumerate(messages):
        headers = msg.all_headers() or {}
        headers[js_api.Header.BATCH_ID] = batch_id
        headers[js_api.Header.BATCH_SEQUENCE] = str(index + 1)
        if index < last:
            await nc.publish(msg.subject, msg.payload, headers=headers)
        else:
            headers[js_api.Header.BATCH_COMMIT] = "1"
            reply = await nc.request(msg.subject, msg.payload, timeout=timeout, headers=headers)
    ack = _ack_decoder.decode(reply.data)
    if ack.error is not None:
        raise BatchRefused(
            code=ack.error.code, err_code=ack.error.err_code, description=ack.error.description
        )
    if ack.count != len(messages):
        raise BatchRefused(description=f"batch of {len(messages)} committed {ack.count}")
    first = ack.seq - ack.count + 1
    return [
        js_api.PubAck(stream=ack.stream, seq=first + i, duplicate=False)
        for i in range(len(messages))
    ]


async def _publish_chunk(
    nc: NatsClient, js: JetStreamContext, chunk: Sequence[OutMessage], timeout: float
) -> list[js_api.PubAck | Exception]:
    if len(chunk) == 1:
        return await publish_all(js, chunk, timeout=timeout)
    try:
        return list(await _publish_atomic(nc, chunk, timeout))
    except BatchRefused as exc:
        if exc.err_code != ERR_BATCH_DUPLICATE_MSG_ID:
            return [exc] * len(chunk)
        log.debug("batch holds a duplicate: publishing its %d messages one by one", len(chunk))
        return await publish_all(js, chunk, timeout=timeout)
    except Exception as exc:  # timeout, disconnection: nothing of this batch is known stored
        return [exc] * len(chunk)


async def publish_batched(
    nc: NatsClient,
    js: JetStreamContext,
    messages: Sequence[OutMessage],
    *,
    timeout: float = 10.0,
    batch_size: int = 500,
) -> list[js_api.PubAck | Exception]:
    """Publish messages that all belong to one stream; per message, its ack or its error.

    Returned in input order. A ``PubAck`` means stored and synced; an exception means the
    message may or may not be stored, and publishing it again is safe when it carries a
    ``Nats-Msg-Id``.
    """
    size = max(1, min(batch_size, MAX_BATCH))
    chunks = [messages[i : i + size] for i in range(0, len(messages), size)]
    results = await asyncio.gather(*(_publish_chunk(nc, js, c, timeout) for c in chunks))
    return [result for chunk in results for result in chunk]


class BatchWindow:
    """Buffers messages for one stream into atomic batches, with a bounded number in flight.

    ``add`` returns once the message is buffered (waiting while ``max_in_flight`` messages are
    unacknowledged); a full buffer is sent at once, a partial one on ``flush``. Counts say what
    became of every message: ``acked`` (``duplicates`` among them) or ``errors``.
    """

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        *,
        batch_size: int = 500,
        max_in_flight: int = 4096,
        ack_timeout: float = 10.0,
    ) -> None:
        self.nc = nc
        self.js = js
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.max_in_flight = max(max_in_flight, self.batch_size)
        self.ack_timeout = ack_timeout
        self.acked = self.duplicates = self.errors = 0
        self.first_error: str | None = None
        self.in_flight = 0
        self._buffer: list[OutMessage] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Condition()

    async def add(self, message: OutMessage) -> None:
        self._buffer.append(message)
        if len(self._buffer) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        async with self._room:
            await self._room.wait_for(lambda: self.in_flight + len(batch) <= self.max_in_flight)
            self.in_flight += len(batch)
        task = asyncio.create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[OutMessage]) -> None:
        try:
            results = await publish_batched(
                self.nc, self.js, batch, timeout=self.ack_timeout, batch_size=len(batch)
            )
        except Exception as exc:  # never lose count of a message
            results = [exc] * len(batch)
        for result in results:
            if isinstance(result, Exception):
                self.errors += 1
                if self.first_error is None:
                    self.first_error = str(result) or type(result).__name__
            else:
                self.acked += 1
                self.duplicates += bool(result.duplicate)
        async with self._room:
            self.in_flight -= len(batch)
            self._room.notify_all()

    async def drain(self) -> None:
        """Send what is buffered and wait for every acknowledgement."""
        await self.flush()
        while self._tasks:
            await asyncio.gather(*list(self._tasks))


class GroupPublisher:
    """Group commit for many small concurrent publishers (one HTTP request per report).

    Callers hand in their messages and wait for their own acks. While ``max_concurrent``
    batches are in flight, newly arrived messages queue up and leave together as the next
    atomic batch, so one fsync serves many requests. An idle publisher sends at once: a lone
    report pays no added latency.
    """

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        *,
        max_batch: int = 500,
        max_concurrent: int = 4,
        timeout: float = 10.0,
    ) -> None:
        self.nc = nc
        self.js = js
        self.max_batch = max(1, min(max_batch, MAX_BATCH))
        self.timeout = timeout
        self._queue: list[tuple[OutMessage, asyncio.Future[js_api.PubAck | Exception]]] = []
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending = False

    async def publish(self, messages: Sequence[OutMessage]) -> list[js_api.PubAck | Exception]:
        """Per message, in order: its ack, or the error (the message may not be stored)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[js_api.PubAck | Exception]] = [
            loop.create_future() for _ in messages
        ]
        self._queue.extend(zip(messages, futures, strict=True))
        if not self._sending:
            self._sending = True
            self._spawn(self._dispatch())
        return list(await asyncio.gather(*futures))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self) -> None:
        try:
            while self._queue:
                await self._slots.acquire()
                batch, self._queue = (
                    self._queue[: self.max_batch],
                    self._queue[self.max_batch :],
                )
                self._spawn(self._send(batch))
        finally:
            self._sending = False

    async def _send(
        self, batch: list[tuple[OutMessage, asyncio.Future[js_api.PubAck | Exception]]]
    ) -> None:
        try:
            messages = [message for message, _ in batch]
            try:
                results = await publish_batched(
                    self.nc, self.js, messages, timeout=self.timeout, batch_size=len(batch)
                )
            except Exception as exc:  # every caller must hear back
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._slots.release()
