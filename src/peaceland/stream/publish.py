"""Publishing to JetStream: one ``Publisher`` for every way the product writes to a stream.

* ``publish`` / ``publish_all``: single publishes, each a request with its own timeout (nats-py's
  ``publish_async`` keeps a pending slot forever when the publish itself raises, which would
  slowly starve a long-running gateway);
* ``send`` + ``collect``: publish without waiting, then gather the acks (the alerter, whose loop
  never waits for an fsync);
* ``publish_batched``: *atomic batches*. With ``sync_interval: always`` JetStream fsyncs after
  each stored message, which caps plain publishing at a few thousand messages per second on one
  disk (measured: ~5,000/s here); an atomic batch (nats-server ≥ 2.12, stream ``allow_atomic``)
  is stored and synced as one write: ~40,000 messages/s with the same durability. Every message
  of a committed batch is durable once the commit is acknowledged; a batch that is not
  committed stores nothing. JetStream refuses a whole batch when one of its ``Nats-Msg-Id`` is
  already in the duplicate window; that batch is then published message by message, so
  duplicates are reported per message exactly as with single publishes;
* ``Publisher.window()``: a ``BatchWindow``, atomic batches with a bounded number of messages
  in flight (the simulated fleet);
* ``Publisher.group()``: a ``GroupPublisher``, group commit for many concurrent callers (the
  gateway's requests).

Every result is, per message and in input order, its ``PubAck`` (stored and synced) or the
exception (the message may or may not be stored; publishing it again is safe when it carries a
``Nats-Msg-Id``).

Through a leader election of a replicated stream, single publishes and atomic batches are sent
again until ``timeout`` when that cannot store a message twice (``peaceland.stream.retry``):
with a ``Nats-Msg-Id`` after each ack not received within ``attempt_s`` (a request lost with
the killed leader goes to the next one), always after "no responders" or ``503``. ``send`` is
not retried: its callers do not wait, they settle what failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import msgspec
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError
from nats.js import api as js_api
from nats.js.errors import APIError

from peaceland.contract import ERROR_HEADER, MSG_ID_HEADER, deadletter_subject
from peaceland.stream.retry import until_stored

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Set on every message of an atomic batch; such a message seen on a core subscription may
#: still be rolled back, so only its stored copy counts.
BATCH_ID_HEADER: Final = js_api.Header.BATCH_ID.value
# nats-server refuses atomic batches of more than 1,000 messages.
MAX_BATCH: Final = 1000
ERR_BATCH_DUPLICATE_MSG_ID: Final = 10201

PublishResult = js_api.PubAck | Exception
#: A message handed to the client without waiting: the future of its ack, or why it was not.
Pending = asyncio.Future[js_api.PubAck] | Exception


@dataclasses.dataclass(frozen=True, slots=True)
class OutMessage:
    subject: str
    payload: bytes
    msg_id: str | None = None
    headers: Mapping[str, str] | None = None

    def all_headers(self) -> dict[str, str] | None:
        headers = dict(self.headers) if self.headers else {}
        if self.msg_id is not None:
            headers[MSG_ID_HEADER] = self.msg_id
        return headers or None


def deadletter_message(
    source: str, payload: bytes, reason: str, *, msg_id: str | None = None
) -> OutMessage:
    """A dead letter: the payload untouched, the reason in the ``Peaceland-Error`` header."""
    # Header values are one line of text; keep the reason readable and bounded.
    clean = " ".join(reason.split())[:1000]
    return OutMessage(
        deadletter_subject(source), payload, msg_id=msg_id, headers={ERROR_HEADER: clean}
    )


def in_atomic_batch(headers: Mapping[str, str] | None) -> bool:
    """Whether a message seen in flight belongs to an atomic batch (not yet known stored)."""
    return bool(headers and headers.get(BATCH_ID_HEADER))


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


def _as_exception(error: BaseException) -> Exception:
    return error if isinstance(error, Exception) else RuntimeError(repr(error))


class Publisher:
    """Publishes to JetStream over ``nc``; ``timeout`` bounds the wait for each ack, retries
    included; ``attempt_s`` (default: a third of ``timeout``, at least 2 s) bounds one attempt
    of a message with a ``Nats-Msg-Id``."""

    def __init__(
        self, nc: NatsClient, *, timeout: float = 10.0, attempt_s: float | None = None
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.timeout = timeout
        self.attempt_s = attempt_s if attempt_s is not None else max(2.0, timeout / 3)

    async def publish(self, message: OutMessage) -> js_api.PubAck:
        """One message; raises when it is not acknowledged in time."""
        headers = message.all_headers()

        def attempt(wait_s: float) -> Coroutine[Any, Any, js_api.PubAck]:
            return self.js.publish(
                message.subject, message.payload, timeout=wait_s, headers=headers
            )

        return await self._until_stored(attempt, deduplicated=message.msg_id is not None)

    def _until_stored(
        self, attempt: Callable[[float], Coroutine[Any, Any, T]], *, deduplicated: bool
    ) -> Coroutine[Any, Any, T]:
        return until_stored(
            attempt, timeout=self.timeout, attempt_s=self.attempt_s, deduplicated=deduplicated
        )

    async def publish_all(self, messages: Iterable[OutMessage]) -> list[PublishResult]:
        """Publish concurrently and wait for every acknowledgement."""
        batch = list(messages)
        if not batch:
            return []
        results = await asyncio.gather(*(self.publish(m) for m in batch), return_exceptions=True)
        return [r if isinstance(r, js_api.PubAck) else _as_exception(r) for r in results]

    async def send(self, messages: Iterable[OutMessage]) -> list[Pending]:
        """Hand messages to the client without waiting for their acks (``collect`` does).

        One failure never fails the others: a message over the server's payload limit, or
        refused by a full client (more than its pending limit for ``timeout``), gets its error.
        """
        max_payload = self.nc.max_payload
        sent: list[Pending] = []
        for m in messages:
            if len(m.payload) > max_payload:
                sent.append(MaxPayloadError(f"{len(m.payload)} bytes, over {max_payload}"))
                continue
            try:
                sent.append(
                    await self.js.publish_async(
                        m.subject, m.payload, headers=m.all_headers(), wait_stall=self.timeout
                    )
                )
            except (TimeoutError, NatsError) as exc:  # too many in flight, connection closing
                sent.append(exc)
        return sent

    async def collect(self, sent: Sequence[Pending]) -> list[PublishResult]:
        """The acks of ``send``, in order; an ack not received within ``timeout`` has its
        future cancelled (which frees its slot in the client) and counts as a failure."""
        futures = [p for p in sent if isinstance(p, asyncio.Future)]
        if futures:
            _, late = await asyncio.wait(futures, timeout=self.timeout)
            for future in late:
                future.cancel()
        results: list[PublishResult] = []
        for p in sent:
            if isinstance(p, Exception):
                results.append(p)
            elif p.cancelled():
                results.append(TimeoutError(f"no JetStream ack within {self.timeout:g} s"))
            else:
                error = p.exception()
                results.append(p.result() if error is None else _as_exception(error))
        return results

    def window(self, *, batch_size: int = 500, max_in_flight: int = 4096) -> BatchWindow:
        return BatchWindow(self, batch_size=batch_size, max_in_flight=max_in_flight)

    def group(self, *, max_batch: int = 500, max_concurrent: int = 4) -> GroupPublisher:
        return GroupPublisher(self, max_batch=max_batch, max_concurrent=max_concurrent)

    async def publish_batched(
        self, messages: Sequence[OutMessage], *, batch_size: int = 500
    ) -> list[PublishResult]:
        """Messages that all belong to one stream, as atomic batches of ``batch_size``."""
        size = max(1, min(batch_size, MAX_BATCH))
        chunks = [messages[i : i + size] for i in range(0, len(messages), size)]
        results = await asyncio.gather(*(self._publish_chunk(c) for c in chunks))
        return [result for chunk in results for result in chunk]

    async def _publish_chunk(self, chunk: Sequence[OutMessage]) -> list[PublishResult]:
        if len(chunk) == 1:
            return await self.publish_all(chunk)
        # A new batch id for each attempt: a committed batch sent again is refused as a
        # duplicate (below) when all its messages carry ids.
        deduplicated = all(m.msg_id is not None for m in chunk)
        try:
            acks = await self._until_stored(
                lambda wait_s: self._publish_atomic(chunk, wait_s), deduplicated=deduplicated
            )
            return list(acks)
        except BatchRefused as exc:
            if exc.err_code != ERR_BATCH_DUPLICATE_MSG_ID:
                return [exc] * len(chunk)
            log.debug("batch holds a duplicate: publishing its %d messages one by one", len(chunk))
            return await self.publish_all(chunk)
        except Exception as exc:  # timeout, disconnection: nothing of this batch is known stored
            return [exc] * len(chunk)

    async def _publish_atomic(
        self, messages: Sequence[OutMessage], timeout: float
    ) -> list[js_api.PubAck]:
        nc = self.nc
        batch_id = nc.new_inbox().rsplit(".", 1)[-1]  # a NUID: unique, header-safe
        last = len(messages) - 1
        for index, msg in enumerate(messages):
            headers = msg.all_headers() or {}
            headers[BATCH_ID_HEADER] = batch_id
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


class BatchWindow:
    """Buffers messages for one stream into atomic batches, with a bounded number in flight.

    ``add`` returns once the message is buffered (waiting while ``max_in_flight`` messages are
    unacknowledged); a full buffer is sent at once, a partial one on ``flush``. Counts say what
    became of every message: ``acked`` (``duplicates`` among them) or ``errors``.
    """

    def __init__(
        self, publisher: Publisher, *, batch_size: int = 500, max_in_flight: int = 4096
    ) -> None:
        self.publisher = publisher
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.max_in_flight = max(max_in_flight, self.batch_size)
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
            results = await self.publisher.publish_batched(batch, batch_size=len(batch))
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
        self, publisher: Publisher, *, max_batch: int = 500, max_concurrent: int = 4
    ) -> None:
        self.publisher = publisher
        self.max_batch = max(1, min(max_batch, MAX_BATCH))
        self._queue: list[tuple[OutMessage, asyncio.Future[PublishResult]]] = []
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending = False

    async def publish(self, messages: Sequence[OutMessage]) -> list[PublishResult]:
        """Per message, in order: its ack, or the error (the message may not be stored)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[PublishResult]] = [loop.create_future() for _ in messages]
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

    async def _send(self, batch: list[tuple[OutMessage, asyncio.Future[PublishResult]]]) -> None:
        try:
            messages = [message for message, _ in batch]
            try:
                results = await self.publisher.publish_batched(messages, batch_size=len(batch))
            except Exception as exc:  # every caller must hear back
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._slots.release()
