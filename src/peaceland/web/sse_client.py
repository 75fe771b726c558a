"""A small client for ``GET /api/v1/alerts/stream``: for integrators, tests and benchmarks.

``EventParser`` turns the lines of a Server-Sent Events stream into ``Event`` s (pure, the
WHATWG rules that matter here: ``id``, ``event``, ``data`` joined by newlines, ``:`` comments);
``sse_events(session, url, last_event_id=…)`` yields them as they arrive, each stamped with
``time.perf_counter()`` at arrival.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping

from aiohttp import ClientSession, ClientTimeout


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    id: str | None
    event: str
    data: str
    received_at: float = 0.0


class EventParser:
    def __init__(self) -> None:
        self.last_id: str | None = None
        self.comments = 0
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str, now: float = 0.0) -> Event | None:
        """One line without its end; returns the event a blank line completes."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = Event(self.last_id, self._event or "message", "\n".join(self._data), now)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


async def sse_events(
    session: ClientSession,
    url: str,
    *,
    last_event_id: str | None = None,
    params: Mapping[str, str] | None = None,
    opened: asyncio.Event | None = None,
) -> AsyncIterator[Event]:
    """Events from ``url`` until the server closes the stream; ``aiohttp.ClientResponseError``
    for an answer other than 200. ``opened`` is set once the server answered: from then on,
    no new alert is missed."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    timeout = ClientTimeout(total=None, sock_read=None)
    async with session.get(url, headers=headers, params=params, timeout=timeout) as resp:
        resp.raise_for_status()
        if opened is not None:
            opened.set()
        parser = EventParser()
        async for raw in resp.content:
            now = time.perf_counter()
            event = parser.feed(raw.decode("utf-8").rstrip("\r\n"), now)
            if event is not None:
                yield event
