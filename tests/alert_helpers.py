"""Shared by the delivery tests: alerts published straight to ALERTS, the web app on a test
server, an SSE reader in the background."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import ClientSession
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from peaceland.access import Role
from peaceland.alerting.rules import severity as severity_of
from peaceland.contract import (
    MSG_ID_HEADER,
    Alert,
    Severity,
    alert_subject,
    encode_alert,
    format_raised_at,
)
from peaceland.delivery import BuilderOptions
from peaceland.web.app import WebOptions
from peaceland.web.sse_client import Event, sse_events

if TYPE_CHECKING:  # for the type checker only: never import a conftest at run time
    from peaceland.testing import Stack

BASE_TS = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def unique_drone(prefix: str = "dl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_alert(
    drone: str, n: int, citizen: str = "Gavroche", score: int = 3, **fields: Any
) -> Alert:
    ts = BASE_TS + timedelta(seconds=n)
    report_id = f"{drone}:{ts.isoformat().replace('+00:00', 'Z')}"
    values: dict[str, Any] = {
        "alert_id": f"{report_id}/0",
        "report_id": report_id,
        "drone_id": drone,
        "ts": ts,
        "lat": 48.85 + n / 1000,
        "lon": 2.35,
        "citizen": citizen,
        "peacescore": score,
        "severity": severity_of(score),
        "words": ["émeute"],
        "raised_at": format_raised_at(datetime.now(UTC)),
    }
    values.update(fields)
    return Alert(**values)


async def publish_alert(js: JetStreamContext, alert: Alert, msg_id: str | None = None) -> int:
    """Publish as the alerter does; returns the stream sequence."""
    ack = await js.publish(
        alert_subject(alert.drone_id),
        encode_alert(alert),
        headers={MSG_ID_HEADER: msg_id or alert.alert_id},
    )
    return ack.seq


class Web:
    def __init__(self, url: str, nc: NatsClient, http: ClientSession) -> None:
        self.url = url
        self.nc = nc
        self.js = nc.jetstream()
        self.http = http

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http.get(self.url + path, params=params) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, body: bytes | Any) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else msgspec.json.encode(body)
        async with self.http.post(self.url + path, data=data) as resp:
            return resp.status, await resp.json()


def builder_for(drone: str, durable: str | None = None) -> WebOptions:
    """The app's incident builder on this test's drone only, with its own durable."""
    return WebOptions(
        incident_builder=BuilderOptions(
            durable=durable or f"test-incidents-{drone}",
            filter_subject=alert_subject(drone),
            max_wait_s=0.2,
        )
    )


@contextlib.asynccontextmanager
async def web_app(
    stack: Stack, options: WebOptions | None = None, role: Role = Role.ADMIN
) -> AsyncIterator[Web]:
    """The full application on a test server; requests carry a new token of ``role``."""
    async with stack.serve_app(options, role=role) as served:
        yield Web(served.url, served.nc, served.http)


class SseReader:
    """Reads an SSE stream in a background task; ``events`` of one drone, in arrival order."""

    def __init__(self, web: Web, drone: str, **kwargs: Any) -> None:
        self.drone = drone
        self.events: list[tuple[Event, Alert]] = []
        self.opened = asyncio.Event()
        self.arrived = asyncio.Event()
        self._task = asyncio.create_task(self._read(web, kwargs))

    async def _read(self, web: Web, kwargs: dict[str, Any]) -> None:
        stream = web.url + "/api/v1/alerts/stream"
        async for event in sse_events(web.http, stream, opened=self.opened, **kwargs):
            alert = msgspec.json.decode(event.data, type=Alert)
            if alert.drone_id == self.drone:
                self.events.append((event, alert))
                self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[Event, Alert]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if self._task.done():
                self._task.result()
                raise AssertionError(f"stream ended after {len(self.events)} of {count} events")
            self.arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"only {len(self.events)} of {count} events in {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)
        return self.events[:count]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Await ``check()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: last {value!r}")
        await asyncio.sleep(interval)


def severity_name(score: int) -> Severity:
    return severity_of(score)
