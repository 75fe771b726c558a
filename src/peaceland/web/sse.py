"""``GET /api/v1/alerts/stream``: alerts as Server-Sent Events, live, resumable, gap-free.

Each web process follows ``ALERTS`` with one ordered consumer (``AlertFeed``) and fans every
alert out to its connected clients. An event is::

    id: <ALERTS stream sequence>
    event: alert
    data: <the alert JSON, as stored>

A client that reconnects with ``Last-Event-ID: N`` (browsers do it by themselves) first gets
every alert after sequence N read from the stream, then the live ones: no gap, no duplicate,
and any gateway instance can serve it since the ids are the stream's. ``?since=`` (RFC 3339 or
an age like ``15m``) replays from a time instead; without either, only new alerts are sent.
A comment line every ``heartbeat_s`` (15 s) keeps proxies from closing an idle connection.

A client too slow to keep up (``MAX_BEHIND`` undelivered alerts) is disconnected rather than
slowing anyone else; it reconnects with its ``Last-Event-ID`` and catches up from the stream.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from datetime import UTC, datetime
from typing import Final

from aiohttp import web

from peaceland.delivery import (
    StoredAlert,
    follow,
    parse_event_id,
    parse_since,
    read_range,
    stored_alert,
    stream_bounds,
)
from peaceland.stream import Consuming, Msg, NatsClient
from peaceland.web.responses import json_error

log = logging.getLogger(__name__)

HEARTBEAT_S: Final = 15.0
MAX_BEHIND: Final = 10_000
RETRY_MS: Final = 1000


class Listener:
    """One client's queue of live alerts, bounded; ``overflowed`` once it fell too far behind."""

    def __init__(self, start: int, limit: int) -> None:
        self.start = start  # the feed's position when the client arrived
        self.limit = limit
        self.overflowed = False
        self.closed = False
        self._items: collections.deque[StoredAlert] = collections.deque()
        self._wake = asyncio.Event()

    def push(self, item: StoredAlert) -> None:
        if self.overflowed or self.closed:
            return
        if len(self._items) >= self.limit:
            self.overflowed = True
        else:
            self._items.append(item)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def next(self, timeout: float) -> StoredAlert | None:
        """The next alert; None after ``timeout`` with none, or once closed or overflowed."""
        if not self._items and not self.closed and not self.overflowed:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        return self._items.popleft() if self._items else None

    @property
    def ended(self) -> bool:
        return self.closed or (self.overflowed and not self._items)


class AlertFeed:
    """Follows ALERTS from the moment it starts and hands each alert to every listener."""

    def __init__(self, nc: NatsClient, *, max_behind: int = MAX_BEHIND) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.max_behind = max_behind
        self.position = 0  # stream sequence of the last message seen
        self.listeners: set[Listener] = set()
        self.delivered = 0
        self._sub: Consuming | None = None

    async def start(self) -> None:
        _, self.position = await stream_bounds(self.js)
        self._sub = await follow(self.nc, self._on_msg, after=self.position)
        log.info("alert feed following ALERTS after seq %d", self.position)

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        for listener in list(self.listeners):
            listener.close()
        self.listeners.clear()

    async def _on_msg(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self.position:  # replayed by a consumer re-created after a gap
            return
        self.position = seq
        item = stored_alert(msg)
        if item is None:
            return
        self.delivered += 1
        for listener in self.listeners:
            listener.push(item)

    def listen(self) -> Listener:
        listener = Listener(self.position, self.max_behind)
        self.listeners.add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        self.listeners.discard(listener)


def event_bytes(item: StoredAlert) -> bytes:
    lines = item.payload.splitlines() or [b""]
    data = b"".join(b"data: " + line + b"\n" for line in lines)
    return b"id: %d\nevent: alert\n%s\n" % (item.seq, data)


FEED_KEY: Final = web.AppKey("alert_feed", AlertFeed)
HEARTBEAT_KEY: Final = web.AppKey("sse_heartbeat_s", float)


async def stream_alerts(request: web.Request) -> web.StreamResponse:
    feed = request.app[FEED_KEY]
    heartbeat = request.app.get(HEARTBEAT_KEY, HEARTBEAT_S)
    try:
        after, since = _start_of(request)
    except ValueError as exc:
        return json_error(400, str(exc))
    listener = feed.listen()
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(b"retry: %d\n: following ALERTS\n\n" % RETRY_MS)
        last = listener.start if after is None and since is None else (after or 0)
        if last < listener.start:
            async for item in read_range(feed.nc, listener.start, after=after, since=since):
                if item.seq > last:
                    await response.write(event_bytes(item))
                    last = item.seq
        while not listener.ended:
            live = await listener.next(heartbeat)
            if live is None:
                if not listener.ended:
                    await response.write(b": keep-alive\n\n")
            elif live.seq > last:
                await response.write(event_bytes(live))
                last = live.seq
        if listener.overflowed:
            log.info("SSE client fell %d alerts behind: disconnected", listener.limit)
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away
    except TimeoutError:
        log.warning("SSE catch-up stalled: closing the stream, the client will resume")
    finally:
        feed.forget(listener)
    return response


def _start_of(request: web.Request) -> tuple[int | None, datetime | None]:
    """(after, since) from ``Last-Event-ID`` (which wins, being a reconnect) or ``?since=``."""
    unknown = set(request.query) - {"since"}
    if unknown:
        raise ValueError(f"unknown parameter {sorted(unknown)[0]!r}; known: since")
    header = request.headers.get("Last-Event-ID")
    if header is not None and header.strip():
        return parse_event_id(header), None
    if "since" in request.query:
        return None, parse_since(request.query["since"], datetime.now(UTC))
    return None, None


def add_sse_routes(app: web.Application, nc: NatsClient, heartbeat_s: float) -> None:
    """The route, and the feed started and stopped with the application."""
    app[FEED_KEY] = AlertFeed(nc)
    app[HEARTBEAT_KEY] = heartbeat_s
    app.router.add_get("/api/v1/alerts/stream", stream_alerts)

    async def start(app: web.Application) -> None:
        await app[FEED_KEY].start()

    async def stop(app: web.Application) -> None:
        await app[FEED_KEY].stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)  # before connections close: SSE handlers end at once
