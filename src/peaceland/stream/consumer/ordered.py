"""An ordered reader: an ephemeral, unacknowledged pull consumer that yields a stream in order,
gap-free, and re-creates itself at the right sequence when it is lost.

nats-py's ``ordered_consumer=True`` re-creates a lost consumer from the last sequence it
*delivered*, 0 before the first message, which replays the whole stream; fixing that needs its
private fields. Here the position is ours: each delivery's consumer sequence must follow the
last one, else (a gap), on ``503``/``409 Consumer Deleted``, after two missed heartbeats or a
reconnect, the consumer is replaced by one starting after the last stream sequence seen, or
after the position the first consumer started from when nothing was seen yet (``reset()``).
Messages still arriving for a replaced consumer are dropped by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import api as js_api

from peaceland.stream.consumer.ack import parse_ack_subject
from peaceland.stream.consumer.pull import MessageStream, PullEngine
from peaceland.stream.consumer.request import next_subject

log = logging.getLogger(__name__)

#: An ephemeral consumer without pull requests for this long is removed by the server.
INACTIVE_S: Final = 30.0
DELETE_TIMEOUT_S: Final = 2.0
#: Pause of a callback reader after a connection error, before it tries again.
RETRY_S: Final = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Start:
    """Where an ordered reader starts (the first consumer only; re-creations resume)."""

    policy: js_api.DeliverPolicy = js_api.DeliverPolicy.NEW
    seq: int | None = None
    time: datetime | None = None

    @classmethod
    def first(cls) -> Start:
        """From the first message the stream holds."""
        return cls(js_api.DeliverPolicy.ALL)

    @classmethod
    def after(cls, seq: int) -> Start:
        return cls(js_api.DeliverPolicy.BY_START_SEQUENCE, seq=seq + 1)

    @classmethod
    def since(cls, at: datetime) -> Start:
        return cls(js_api.DeliverPolicy.BY_START_TIME, time=at)

    @classmethod
    def last_per_subject(cls) -> Start:
        return cls(js_api.DeliverPolicy.LAST_PER_SUBJECT)


class OrderedConsumer(PullEngine):
    """Reads ``stream`` (optionally one ``filter_subject``) in order from ``start``.

    ``resume_after``: the stream sequence to resume after when the consumer is lost before its
    first message; by default the position the first consumer started from.
    """

    def __init__(
        self,
        nc: NatsClient,
        stream: str,
        *,
        filter_subject: str | None = None,
        start: Start = Start(),
        resume_after: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(nc, stream, "", clock)
        self.filter_subject = filter_subject
        self.start_at = start
        self._floor = resume_after
        self._stream_seq = 0  # last stream sequence handed on
        self._consumer_seq = 0  # last consumer sequence of the current consumer
        self.resets = 0
        self.info: js_api.ConsumerInfo | None = None

    @property
    def position(self) -> int:
        """The stream sequence a re-created consumer resumes after."""
        return max(self._stream_seq, self._floor or 0)

    async def start(self) -> js_api.ConsumerInfo:
        """Create the first consumer now; its info (``num_pending``: messages to come)."""
        await self._create()
        self._ready = True
        self._last_heard = self.clock()
        if self.info is None:  # _create always sets it; this keeps the type checker honest
            raise RuntimeError("consumer not created")
        return self.info

    async def reset(self) -> None:
        """Replace the consumer by one starting after the last message seen."""
        self._lost("reset")
        await self._ensure()

    async def _create(self) -> None:
        js = self.nc.jetstream()
        await self._delete()
        config = js_api.ConsumerConfig(
            ack_policy=js_api.AckPolicy.NONE,
            max_deliver=1,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=INACTIVE_S,
            filter_subject=self.filter_subject,
        )
        if self.info is None:
            config.deliver_policy = self.start_at.policy
            config.opt_start_seq = self.start_at.seq
            config.opt_start_time = self.start_at.time
        else:
            self.resets += 1
            config.deliver_policy = js_api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self.position + 1
        info = await js.add_consumer(self.stream, config)
        if self.info is None and self._floor is None and info.delivered is not None:
            self._floor = info.delivered.stream_seq or 0
        self.info = info
        self.name = info.name or ""
        self._api = next_subject(self.stream, self.name)
        self._consumer_seq = 0

    def _accept(self, msg: Msg) -> bool:
        try:
            ack = parse_ack_subject(msg.reply)
        except ValueError:
            return False
        if ack.consumer != self.name:
            return False  # from a consumer already replaced
        if ack.consumer_seq != self._consumer_seq + 1:
            self._lost(f"gap after consumer seq {self._consumer_seq} (got {ack.consumer_seq})")
            return False
        self._consumer_seq = ack.consumer_seq
        self._stream_seq = ack.stream_seq
        return True

    async def _nak(self, msgs: Sequence[Msg]) -> None:
        """Nothing to give back: the consumer does not take acknowledgements."""

    async def close(self) -> None:
        await super().close()
        await self._delete()

    async def _delete(self) -> None:
        name, self.name = self.name, ""
        if name:
            with contextlib.suppress(NatsError, TimeoutError):
                await asyncio.wait_for(
                    self.nc.jetstream().delete_consumer(self.stream, name), DELETE_TIMEOUT_S
                )

    def consume(
        self,
        cb: Callable[[Msg], Awaitable[None]],
        *,
        batch: int = 256,
        heartbeat_s: float = 5.0,
    ) -> Consuming:
        """Call ``cb`` with every message, in order, from a task, until ``unsubscribe()``."""
        messages = self.messages(batch=batch, max_wait_s=heartbeat_s, heartbeat_s=heartbeat_s)
        return Consuming(messages, cb)


class Consuming:
    """A running ``OrderedConsumer.consume``; ``unsubscribe()`` stops it."""

    def __init__(self, messages: MessageStream, cb: Callable[[Msg], Awaitable[None]]) -> None:
        self.messages = messages
        self._cb = cb
        self._task = asyncio.create_task(self._run(), name=f"consume {messages.engine.stream}")

    async def _run(self) -> None:
        engine = self.messages.engine
        while not engine.nc.is_closed:
            try:
                async for msg in self.messages:
                    try:
                        await self._cb(msg)
                    except Exception:  # one bad message must not stop the reader
                        log.exception("handling %s", msg.subject)
                return
            except NatsError as exc:  # the connection is reconnecting, or closing
                log.warning("reading %s: %s", engine.stream, exc)
                await asyncio.sleep(RETRY_S)

    async def unsubscribe(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.messages.close()
