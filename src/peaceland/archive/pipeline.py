"""One stream's messages → Arrow batches → Parquet objects: the archiver's pipeline.

A ``Pipeline`` talks to its edges through small interfaces, so it runs the same against
JetStream and S3 (``archive.archiver``) as against in-memory twins in unit tests:
``Source`` (fetch and settle messages), ``ObjectStore`` (put objects), ``DeadLetterSink``
(``archive.edges``).
It loops:

1. **fetch** at most the room left in its batch (rows and bytes), waiting at most until the
   batch is due by age;
2. **build** the messages into one Arrow record batch (``archive.kinds``). Invalid
   payloads go to ``peaceland.deadletter.archiver`` with the reason (``Nats-Msg-Id`` from the
   stream position, so a redelivery makes no second dead letter) and are acknowledged once
   the dead letter is stored;
3. **flush** when the batch is due (``FlushPolicy``): one object per partition
   (``archive.batching.plan_objects``), Parquet encoded in a worker thread, each object put, and
   then, only then, the messages acknowledged. One flush runs while the next batch fills;
   when that one is due too, fetching waits. At most two batches are ever held.

Trouble with the store: a put is retried with exponential backoff, forever, and nothing is
acknowledged meanwhile; the pipeline stops fetching once its batches are full (memory stays
bounded, the backlog stays in JetStream), and messages held longer than half the ack wait are
marked in progress so JetStream does not hand them to another archiver. When the store is
back, the held batches are written and the backlog drained.

Poison: a message delivered more than ``poison_deliveries`` times (it keeps killing or
stalling archivers) is dead-lettered with the reason instead of archived; a dead letter that
cannot be archived is terminated and stays in ``DEADLETTER``. Why exactly once holds:
``archive.layout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from peaceland.archive.batching import Batch, FlushPolicy, Sealed, plan_objects
from peaceland.archive.edges import DeadLetterSink, Delivered, Source
from peaceland.archive.kinds import ArchiveKind
from peaceland.archive.putting import PutRetry, put_until_stored
from peaceland.archive.rows import Received
from peaceland.contract import ERROR_HEADER, StoreError
from peaceland.runtime import ARCHIVE_FLUSH_ROWS, ARCHIVE_FLUSH_SECONDS
from peaceland.storage import ObjectStore
from peaceland.stream import (
    PROGRESS,
    TERM,
    AckInfo,
    Action,
    RetryPolicy,
    deadletter_id,
    deadletter_message,
    parse_ack_subject,
)

log = logging.getLogger(__name__)

SOURCE: Final = "archiver"
#: Fetch at least this many bytes, more than the largest message (DEADLETTER allows 1 MiB).
MIN_FETCH_BYTES: Final = 2 * 2**20
MIN_WAIT_S: Final = 0.05


@dataclasses.dataclass(frozen=True, slots=True)
class PipelineOptions:
    policy: FlushPolicy = dataclasses.field(default_factory=FlushPolicy)
    #: Prepended to every key: several archives in one bucket (tests use it).
    key_prefix: str = ""
    fetch_batch: int = 10_000
    max_wait_s: float = 1.0
    #: The consumer's ack wait; held messages are marked in progress after half of it.
    ack_wait_s: float = 30.0
    poison_deliveries: int = 10
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    #: After stop, how long a failing store is retried before the batch is left unacknowledged.
    stop_grace_s: float = 10.0


@dataclasses.dataclass(slots=True)
class PipelineStats:
    """Totals since start, kept in the process (logged, and for a metrics endpoint)."""

    kind: str
    received: int = 0
    archived: int = 0  # rows written and acknowledged
    objects: int = 0
    bytes_written: int = 0
    dead_lettered: int = 0
    store_errors: int = 0
    last_flush: datetime | None = None
    last_error: str | None = None

    def describe(self) -> str:
        when = self.last_flush.strftime("%H:%M:%S") if self.last_flush else "never"
        return (
            f"{self.kind}: {self.archived:,} archived in {self.objects:,} objects "
            f"({self.bytes_written / 1e6:,.1f} MB), {self.dead_lettered:,} dead-lettered, "
            f"{self.store_errors:,} store errors, last flush {when}"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class _Reject:
    """A message that is not archived, and why."""

    payload: bytes
    reply: str
    info: AckInfo
    reason: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    """One stream's messages into one kind of objects."""

    def __init__(
        self,
        kind: ArchiveKind,
        source: Source,
        store: ObjectStore,
        deadletters: DeadLetterSink,
        options: PipelineOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.kind = kind
        #: How messages become rows (``fmt.kind`` is the kind's name).
        self.fmt = kind.rows
        self.source = source
        self.store = store
        self.deadletters = deadletters
        self.options = options or PipelineOptions()
        self.clock = clock
        self.now = now
        self.stream = kind.stream
        self.stats = PipelineStats(kind.name)
        # JetStream never gives up (max_deliver unlimited): poison is the pipeline's to catch.
        self.retry = RetryPolicy(poison_after=self.options.poison_deliveries)
        self.batch: Batch[str] = Batch(kind.schema, self.options.policy, clock)
        self._writing: asyncio.Task[None] | None = None
        self._writing_replies: list[str] = []
        self._writing_since = 0.0
        self._gave_up = False  # stopped while the store failed: write nothing more
        self._stop = asyncio.Event()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Archive until ``stop`` is set, then write what is held (or leave it unacknowledged
        when the store stays down for ``stop_grace_s``)."""
        self._stop = stop
        keepalive = asyncio.create_task(self._keep_alive())
        try:
            while not stop.is_set():
                await self.step()
            await self.finish()
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive

    async def step(self) -> None:
        """Flush when the batch is due, else fetch once; flush too when that fetch found
        the consumer caught up (a burst's tail is written at once; under a steady flow, what
        arrives while a batch is written makes the next batch)."""
        reason = self.batch.due()
        if reason is not None:
            await self.flush(reason)
            return
        rows, payload_bytes = self.batch.room()
        wait = min(self.options.max_wait_s, max(MIN_WAIT_S, self.batch.seconds_left()))
        msgs = await self.source.fetch(
            min(rows, self.options.fetch_batch), wait, max(payload_bytes, MIN_FETCH_BYTES)
        )
        caught_up = await self.accept(msgs) if msgs else True
        if caught_up and self.batch.rows:
            await self.flush("caught up")  # after the write under way, if any

    async def finish(self) -> None:
        await self.wait_written()
        if self.batch.rows and not self._gave_up:
            await self.flush("stop")
            await self.wait_written()
        if self.batch.rows:
            log.warning(
                "%s: %d messages left unacknowledged; JetStream delivers them again",
                self.fmt.kind,
                self.batch.rows,
            )

    # -- messages in --------------------------------------------------------------------------

    async def accept(self, msgs: Sequence[Delivered]) -> bool:
        """Build the messages into the batch; dead-letter the invalid and the poisonous.
        Whether the consumer had nothing more to deliver after them."""
        pending = -1
        received = Received()
        replies: list[str] = []
        deliveries: list[int] = []
        rejects: list[_Reject] = []
        for msg in msgs:
            try:
                info = parse_ack_subject(msg.reply)
            except ValueError:
                log.warning(
                    "%s: not a JetStream message on %s, ignored", self.fmt.kind, msg.subject
                )
                continue
            pending = info.pending if pending < 0 else min(pending, info.pending)
            if self.retry.is_poison(info.delivered):
                why = f"not archived after {info.delivered} deliveries (poison message)"
                rejects.append(_Reject(msg.data, msg.reply, info, why))
                continue
            headers = msg.headers
            reason = headers.get(ERROR_HEADER) if headers else None
            received.append(msg.data, info.stream_seq, info.timestamp_ns, msg.subject, reason)
            replies.append(msg.reply)
            deliveries.append(info.delivered)
        self.stats.received += len(msgs)
        built = self.fmt.build(received)
        payloads = received.payloads
        self.batch.add(
            built.batch,
            [replies[i] for i in built.kept],
            sum(len(payloads[i]) for i in built.kept),
        )
        for i, why in built.rejected:
            info = AckInfo(received.seqs[i], deliveries[i], received.received_ns[i])
            rejects.append(_Reject(payloads[i], replies[i], info, why))
        if rejects:
            await self._reject(rejects)
        return pending == 0

    async def _reject(self, rejects: list[_Reject]) -> None:
        kind, first = self.fmt.kind, rejects[0]
        if kind == "deadletter":  # nowhere else to send them: they stay in DEADLETTER
            log.error(
                "%d dead letters cannot be archived, terminated (first: seq %d, %s)",
                len(rejects),
                first.info.stream_seq,
                first.reason,
            )
            await self.source.settle([r.reply for r in rejects], TERM)
            self.stats.dead_lettered += len(rejects)
            return
        outgoing = [
            deadletter_message(
                SOURCE,
                r.payload,
                r.reason,
                msg_id=deadletter_id(SOURCE, self.stream, r.info.stream_seq, r.info.timestamp_ns),
            )
            for r in rejects
        ]
        stored = await self.deadletters.publish(outgoing)
        done = [r.reply for r, ok in zip(rejects, stored, strict=True) if ok]
        await self.source.settle(done)
        self.stats.dead_lettered += len(done)
        log.info(
            "%s: dead-lettered %d (first: seq %d, %s)",
            kind,
            len(done),
            first.info.stream_seq,
            first.reason,
        )
        failed = [r for r, ok in zip(rejects, stored, strict=True) if not ok]
        # A dead letter that cannot be stored (too large for DEADLETTER, say) comes back; once
        # poisonous, it is terminated: it stays in its stream, and the log says where. The
        # others are not negatively acknowledged: the ack wait is their retry delay.
        hopeless = [
            r for r in failed if self.retry.on_failure(r.info.delivered).action is Action.TERM
        ]
        for r in hopeless:
            log.error(
                "%s seq %d: dead letter not stored after %d deliveries, terminated (%s)",
                self.stream,
                r.info.stream_seq,
                r.info.delivered,
                r.reason,
            )
        if hopeless:
            await self.source.settle([r.reply for r in hopeless], TERM)
        if len(failed) > len(hopeless):
            log.warning("%d dead letters not stored, they will come back", len(failed))

    # -- objects out --------------------------------------------------------------------------

    async def flush(self, reason: str) -> None:
        """Seal the batch and start writing it, once the previous write is done."""
        await self.wait_written()
        since = self.batch.opened_at or self.clock()
        sealed = self.batch.seal(reason)
        self._writing_replies = sealed.handles
        self._writing_since = since
        self._writing = asyncio.create_task(self._write(sealed))

    async def wait_written(self) -> None:
        """Wait for the write in progress (its errors, other than the store's, propagate)."""
        task, self._writing = self._writing, None
        if task is not None:
            try:
                await task
            finally:
                self._writing_replies = []

    async def _write(self, sealed: Sealed[str]) -> None:
        fmt, kind, prefix = self.fmt, self.kind, self.options.key_prefix

        def encode() -> list[tuple[str, bytes]]:
            return [
                (p.key, kind.to_parquet(p.table)) for p in plan_objects(kind, sealed.table, prefix)
            ]

        began = time.monotonic()
        objects = await asyncio.to_thread(encode)
        for key, data in objects:
            if not await self._put(key, data):
                self._gave_up = True
                log.warning(
                    "%s: stopped while the store fails; %d messages left unacknowledged",
                    fmt.kind,
                    len(sealed.handles),
                )
                return
        await self.source.settle(sealed.handles)
        stats = self.stats
        stats.archived += sealed.table.num_rows
        stats.objects += len(objects)
        stats.bytes_written += sum(len(data) for _, data in objects)
        stats.last_flush = self.now()
        ARCHIVE_FLUSH_SECONDS.labels(fmt.kind).observe(time.monotonic() - began)
        ARCHIVE_FLUSH_ROWS.labels(fmt.kind).observe(sealed.table.num_rows)
        log.debug(
            "%s: flushed %d rows (%s) into %d objects",
            fmt.kind,
            sealed.table.num_rows,
            sealed.reason,
            len(objects),
        )

    async def _put(self, key: str, data: bytes) -> bool:
        o = self.options
        retry = PutRetry(o.backoff_initial_s, o.backoff_max_s, o.stop_grace_s)
        return await put_until_stored(
            self.store, key, data, retry, self._stop, self.clock, self._store_error, self.fmt.kind
        )

    def _store_error(self, exc: StoreError) -> None:
        self.stats.store_errors += 1
        self.stats.last_error = str(exc)

    # -- keeping held messages ----------------------------------------------------------------

    async def keep_alive_once(self) -> int:
        """Mark in progress the messages held longer than half the ack wait; how many."""
        threshold = self.options.ack_wait_s / 2
        now = self.clock()
        held: list[str] = []
        if self._writing_replies and now - self._writing_since >= threshold:
            held.extend(self._writing_replies)
        opened = self.batch.opened_at
        if opened is not None and now - opened >= threshold:
            held.extend(self.batch.handles)
        if held:
            await self.source.settle(held, PROGRESS)
        return len(held)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.options.ack_wait_s / 6)
            marked = await self.keep_alive_once()
            if marked:
                log.info("%s: %d held messages marked in progress", self.fmt.kind, marked)
