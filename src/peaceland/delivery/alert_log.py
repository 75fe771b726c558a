"""Reading the ``ALERTS`` stream: follow it live, read a range, or page through it newest first.

Every alert is identified by its **stream sequence** (``seq``): it is what SSE uses as event id,
so a client resumes exactly after the last alert it saw, whichever gateway it reconnects to.

Readers are ``peaceland.stream.OrderedConsumer``: ephemeral, in server memory, no
acknowledgements; each delivery's consumer sequence is checked and the consumer re-created after
the last stream sequence seen (or after the reader's start, before the first message) after a
gap or a silent server (missed heartbeats), so what a reader yields is gap-free and in order.

API:

* ``StoredAlert(seq, stored_at, payload, alert)`` and ``stored_alert(msg)`` (None for a message
  that is not an alert: it is skipped by every reader, the incident builder dead-letters it).
* ``follow(nc, cb, after=None|seq, since=None|time)`` — a live reader calling ``cb(msg)``, until
  its ``unsubscribe()``.
* ``read_range(nc, until, after=…, since=…)`` — alerts with ``after < seq <= until``, in order.
* ``recent(nc, limit, before, since, select, max_scan)`` — a page of alerts, newest first.
* ``stream_bounds(js)`` — (first seq, last seq) of ``ALERTS``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Final

from peaceland.contract import ALERTS_PREFIX, ALERTS_STREAM, Alert, InvalidReport, decode_alert
from peaceland.stream import (
    ConsumerInfo,
    Consuming,
    JetStreamContext,
    Msg,
    NatsClient,
    OrderedConsumer,
    Start,
)

log = logging.getLogger(__name__)

#: Idle heartbeat of ordered consumers: a reader notices a lost consumer (server restart)
#: after two missed heartbeats and re-creates it from where it was.
HEARTBEAT_S: Final = 2.0
#: Longest wait for the next message of a range known to hold more.
READ_TIMEOUT_S: Final = 10.0
#: Messages asked for at once while reading a range.
READ_BATCH: Final = 256
ALL_ALERTS: Final = ALERTS_PREFIX + ">"
WINDOW_MIN: Final = 64
WINDOW_MAX: Final = 4096

Callback = Callable[[Msg], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class StoredAlert:
    seq: int
    stored_at: datetime
    payload: bytes
    alert: Alert


def stored_alert(msg: Msg) -> StoredAlert | None:
    """The alert of a message from an ALERTS reader, or None when it holds no valid alert."""
    meta = msg.metadata
    try:
        alert = decode_alert(msg.data)
    except InvalidReport as exc:
        log.warning("ALERTS seq %d is not an alert (skipped): %s", meta.sequence.stream, exc)
        return None
    return StoredAlert(meta.sequence.stream, meta.timestamp, msg.data, alert)


async def stream_bounds(js: JetStreamContext) -> tuple[int, int]:
    """(first, last) sequence of ALERTS; ``first > last`` when it is empty."""
    state = (await js.stream_info(ALERTS_STREAM)).state
    return state.first_seq, state.last_seq


async def _open(
    nc: NatsClient,
    after: int | None,
    since: datetime | None,
    subject: str = ALL_ALERTS,
) -> tuple[OrderedConsumer, ConsumerInfo]:
    if after is not None:
        start = Start.after(after)
    elif since is not None:
        start = Start.since(since)
    else:
        start = Start()
    reader = OrderedConsumer(nc, ALERTS_STREAM, filter_subject=subject, start=start)
    return reader, await reader.start()


async def follow(
    nc: NatsClient,
    cb: Callback,
    *,
    after: int | None = None,
    since: datetime | None = None,
    subject: str = ALL_ALERTS,
) -> Consuming:
    """Call ``cb`` with every alert message stored after ``after`` (a stream sequence), or at or
    after ``since``, or from now on; until the reader is unsubscribed. ``subject`` may
    narrow it to one drone (``peaceland.alerts.<drone_id>``)."""
    reader, _ = await _open(nc, after, since, subject)
    return reader.consume(cb, heartbeat_s=HEARTBEAT_S)


async def read_range(
    nc: NatsClient,
    until: int,
    *,
    after: int | None = None,
    since: datetime | None = None,
) -> AsyncIterator[StoredAlert]:
    """Alerts with ``after < seq <= until`` (or stored at or after ``since``, ``seq <= until``),
    in order. ``TimeoutError`` if the server stops answering midway."""
    if after is None and since is None:
        after = 0
    if after is not None and after >= until:
        return
    reader, info = await _open(nc, after, since)
    try:
        if not info.num_pending and not (info.delivered and info.delivered.consumer_seq):
            return
        batch = READ_BATCH if after is None else max(1, min(READ_BATCH, until - after))
        messages = reader.messages(batch=batch, max_wait_s=READ_TIMEOUT_S, heartbeat_s=HEARTBEAT_S)
        while True:
            msg = await messages.next(timeout=READ_TIMEOUT_S)
            meta = msg.metadata
            seq = meta.sequence.stream
            if seq > until:
                return
            item = stored_alert(msg)
            if item is not None:
                yield item
            if seq == until or meta.num_pending == 0:
                return
    finally:
        await reader.close()


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """Alerts newest first; ``next_before``: pass it as ``before`` for the next (older) page,
    None when there is none. ``scanned``: stream messages looked at."""

    alerts: list[StoredAlert]
    scanned: int
    next_before: int | None


Select = Callable[[Sequence[StoredAlert]], Awaitable[Sequence[StoredAlert]]]


async def recent(
    nc: NatsClient,
    limit: int,
    *,
    before: int | None = None,
    since: datetime | None = None,
    select: Select | None = None,
    max_scan: int = 50_000,
) -> Page:
    """Up to ``limit`` alerts with ``seq < before``, stored at or after ``since``, accepted by
    ``select`` (which filters a chunk, in order), newest first.

    The stream is read backwards in windows that double in size (64 … 4096 messages), each
    read forwards by one ordered consumer; at most about ``max_scan`` messages are looked at.
    """
    first, last = await stream_bounds(nc.jetstream())
    hi = last if before is None else min(last, before - 1)
    window = max(WINDOW_MIN, min(limit, WINDOW_MAX))
    found: list[StoredAlert] = []
    scanned = 0
    exhausted = False
    while len(found) < limit:
        if hi < max(first, 1):
            exhausted = True
            break
        if scanned >= max_scan:
            break
        lo = max(first, hi - window + 1, 1)
        chunk = [item async for item in read_range(nc, hi, after=lo - 1)]
        scanned += hi - lo + 1
        hi = lo - 1
        if since is not None and chunk and chunk[0].stored_at < since:
            chunk = [item for item in chunk if item.stored_at >= since]
            exhausted = True
        if select is not None and chunk:
            chunk = list(await select(chunk))
        found.extend(reversed(chunk))
        if exhausted:
            break
        window = min(window * 2, WINDOW_MAX)
    if len(found) >= limit:
        return Page(found[:limit], scanned, found[limit - 1].seq)
    return Page(found, scanned, None if exhausted else hi + 1)
