"""``GET /api/v1/drones/active?minutes=5&limit=1000``: the fleet view, fed live from REPORTS.

Answer::

    {"minutes": 5, "count": 598, "truncated": false, "tracked": 600,
     "drones": [{"drone_id": "pw-0001", "lat": 48.8, "lon": 2.3, "ts": "...",
                 "seen_at": "...", "reports": 12}, ...],            # most recent first
     "reports_per_minute": [{"minute": "2026-11-28T10:15:00Z", "reports": 9871}, ...],
     "tracking_since": "2026-11-28T10:02:11Z"}

A ``FleetWatch`` follows REPORTS only while someone looks: the first request starts an
ordered consumer that delivers the last report of every drone (``last_per_subject``: where
each drone is, at once) then every new one into a ``DroneTracker``; once no request came for
``idle_s`` it is stopped, so a gateway whose fleet view nobody watches pays nothing for it.
Reports per minute are counted from the moment it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from aiohttp import web

from peaceland.contract import REPORTS_PREFIX, REPORTS_STREAM, valid_drone_id
from peaceland.stream import Consuming, Msg, NatsClient, OrderedConsumer, Start
from peaceland.web.drone_tracker import DronePosition, DroneTracker
from peaceland.web.responses import json_error, json_response

log = logging.getLogger(__name__)

IDLE_S: Final = 300.0
HEARTBEAT_S: Final = 2.0
#: How long a first request waits for the last report of every drone.
SEED_WAIT_S: Final = 1.0
MAX_MINUTES: Final = 1440
MAX_LIMIT: Final = 10_000


class _Position(msgspec.Struct, gc=False):
    """The fields of a report the fleet view needs; the rest is skipped unread."""

    drone_id: str
    lat: float
    lon: float
    ts: str = ""


_decode: Final = msgspec.json.Decoder(_Position).decode


class FleetWatch:
    """Follows REPORTS into a ``DroneTracker`` while requests keep coming."""

    def __init__(
        self,
        nc: NatsClient,
        *,
        idle_s: float = IDLE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nc = nc
        self.idle_s = idle_s
        self.clock = clock
        self.tracker: DroneTracker | None = None
        self._sub: Consuming | None = None
        self._last_request = 0.0
        self._seeded = asyncio.Event()
        self._seed_left = 0
        self._lock = asyncio.Lock()
        self._idle_task: asyncio.Task[None] | None = None

    async def tracker_now(self) -> DroneTracker:
        """The tracker, following REPORTS (started on first use)."""
        self._last_request = self.clock()
        async with self._lock:
            tracker = self.tracker
            if self._sub is None or tracker is None:
                tracker = DroneTracker(self.clock())
                await self._start(tracker)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._seeded.wait(), SEED_WAIT_S)
        return tracker

    async def _start(self, tracker: DroneTracker) -> None:
        self.tracker = tracker
        self._seeded.clear()
        # Resumed from now if lost before its first message, not from the stream's start.
        stream = await self.nc.jetstream().stream_info(REPORTS_STREAM)
        reader = OrderedConsumer(
            self.nc,
            REPORTS_STREAM,
            filter_subject=REPORTS_PREFIX + ">",
            start=Start.last_per_subject(),
            resume_after=stream.state.last_seq,
        )
        info = await reader.start()
        self._seed_left = info.num_pending or 0
        if self._seed_left == 0:
            self._seeded.set()
        self._sub = reader.consume(self._on_msg, heartbeat_s=HEARTBEAT_S)
        self._idle_task = asyncio.create_task(self._stop_when_idle(), name="fleet watch idle")
        log.info("fleet view: following REPORTS (%d drones known)", self._seed_left)

    async def _on_msg(self, msg: Msg) -> None:
        if self._seed_left:
            self._seed_left -= 1
            if not self._seed_left:
                self._seeded.set()
        tracker = self.tracker
        if tracker is None:
            return
        try:
            report = _decode(msg.data)
        except msgspec.DecodeError:
            return  # invalid reports are the alerter's business (dead letters)
        if not (valid_drone_id(report.drone_id) and _on_earth(report.lat, report.lon)):
            return
        seen_at = msg.metadata.timestamp.timestamp()
        tracker.observe(report.drone_id, report.lat, report.lon, report.ts[:64], seen_at)

    async def _stop_when_idle(self) -> None:
        while True:
            left = self._last_request + self.idle_s - self.clock()
            if left > 0:
                await asyncio.sleep(min(left, 60.0))
                continue
            async with self._lock:
                if self._last_request + self.idle_s <= self.clock():
                    await self._unsubscribe()
                    break
        log.info("fleet view: nobody looking for %g s, stopped following REPORTS", self.idle_s)

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        self.tracker = None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def stop(self) -> None:
        task, self._idle_task = self._idle_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._unsubscribe()


def _on_earth(lat: float, lon: float) -> bool:
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _int_param(request: web.Request, name: str, default: int, top: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if not 1 <= value <= top:
        raise ValueError(f"{name} must be within 1..{top}, got {value}")
    return value


def _drone(d: DronePosition) -> dict[str, Any]:
    return {
        "drone_id": d.drone_id,
        "lat": d.lat,
        "lon": d.lon,
        "ts": d.ts,
        "seen_at": _time(d.seen_at),
        "reports": d.reports,
    }


async def active_drones(request: web.Request) -> web.Response:
    unknown = sorted(set(request.query) - {"minutes", "limit"})
    if unknown:
        return json_error(400, f"unknown parameter {unknown[0]!r}; known: minutes, limit")
    try:
        minutes = _int_param(request, "minutes", 5, MAX_MINUTES)
        limit = _int_param(request, "limit", 1000, MAX_LIMIT)
    except ValueError as exc:
        return json_error(400, str(exc))
    watch = request.app[WATCH_KEY]
    tracker = await watch.tracker_now()
    now = watch.clock()
    drones = tracker.active(now, minutes)
    return json_response(
        200,
        {
            "minutes": minutes,
            "count": len(drones),
            "truncated": len(drones) > limit,
            "tracked": len(tracker),
            "drones": [_drone(d) for d in drones[:limit]],
            "reports_per_minute": [
                {"minute": _time(start), "reports": count}
                for start, count in tracker.per_minute(now, max(minutes, 60))
            ],
            "tracking_since": _time(tracker.started_at),
        },
    )


WATCH_KEY: Final = web.AppKey("fleet_watch", FleetWatch)


def add_drone_routes(app: web.Application, nc: NatsClient) -> None:
    app[WATCH_KEY] = FleetWatch(nc)
    app.router.add_get("/api/v1/drones/active", active_drones)

    async def stop(app: web.Application) -> None:
        await app[WATCH_KEY].stop()

    app.on_shutdown.append(stop)
