"""Alerts to officers over HTTP against a real nats-server: the SSE stream (order, latency,
resume with Last-Event-ID on any instance, since) and the newest-first list."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alert_helpers import (
    SseReader,
    Web,
    builder_for,
    eventually,
    make_alert,
    publish_alert,
    unique_drone,
    web_app,
)
from peaceland.servers import services
from peaceland.web.app import WebOptions

pytestmark = pytest.mark.slow


@pytest.fixture
async def web(stack: Any) -> AsyncIterator[Web]:
    async with web_app(stack) as running:
        yield running


async def test_sse_delivers_new_alerts_in_order_within_milliseconds(web: Web) -> None:
    drone = unique_drone()
    reader = SseReader(web, drone)
    try:
        await asyncio.wait_for(reader.opened.wait(), 5)
        latencies, seqs = [], []
        for n in range(5):
            started = time.perf_counter()
            seqs.append(await publish_alert(web.js, make_alert(drone, n)))
            event, alert = (await reader.wait_for(n + 1))[n]
            latencies.append(event.received_at - started)
            assert alert.alert_id == make_alert(drone, n).alert_id
        events = await reader.wait_for(5)
        assert [int(e.id or 0) for e, _ in events] == seqs
        assert {e.event for e, _ in events} == {"alert"}
        assert max(latencies) < 0.5, latencies
    finally:
        await reader.close()


async def test_reconnect_with_last_event_id_resumes_without_gap_or_duplicate(
    stack: Any, web: Web
) -> None:
    drone = unique_drone()
    first = SseReader(web, drone)
    await asyncio.wait_for(first.opened.wait(), 5)
    seqs = [await publish_alert(web.js, make_alert(drone, n)) for n in range(3)]
    seen = await first.wait_for(3)
    await first.close()
    last_id = seen[-1][0].id
    assert last_id == str(seqs[-1])
    # Published while no client is connected.
    seqs += [await publish_alert(web.js, make_alert(drone, n)) for n in range(3, 7)]
    # The client comes back through another gateway instance.
    async with web_app(stack) as other:
        second = SseReader(other, drone, last_event_id=last_id)
        try:
            missed = await second.wait_for(4)
            seqs.append(await publish_alert(web.js, make_alert(drone, 7)))
            events = await second.wait_for(5)
            await asyncio.sleep(0.3)  # anything extra would have come by now
            assert [int(e.id or 0) for e, _ in events] == seqs[3:]
            assert [a.alert_id for _, a in missed] == [
                make_alert(drone, n).alert_id for n in range(3, 7)
            ]
            assert len(second.events) == 5
        finally:
            await second.close()


async def test_since_replays_from_a_time_then_goes_live(web: Web) -> None:
    drone = unique_drone()
    before = datetime.now(UTC) - timedelta(seconds=1)
    seqs = [await publish_alert(web.js, make_alert(drone, n)) for n in range(2)]
    reader = SseReader(web, drone, params={"since": before.isoformat()})
    try:
        await reader.wait_for(2)
        seqs.append(await publish_alert(web.js, make_alert(drone, 2)))
        events = await reader.wait_for(3)
        assert [int(e.id or 0) for e, _ in events] == seqs
    finally:
        await reader.close()


@pytest.mark.parametrize(
    ("headers", "query", "message"),
    [
        ({"Last-Event-ID": "abc"}, "", "Last-Event-ID must be an integer"),
        ({"Last-Event-ID": "-3"}, "", "Last-Event-ID must be an integer"),
        ({}, "?since=yesterday", "neither RFC 3339"),
        ({}, "?from=1", "unknown parameter 'from'"),
    ],
)
async def test_bad_stream_requests_are_400(
    web: Web, headers: dict[str, str], query: str, message: str
) -> None:
    async with web.http.get(web.url + "/api/v1/alerts/stream" + query, headers=headers) as resp:
        assert resp.status == 400
        assert message in (await resp.json())["error"]


async def test_list_is_newest_first_with_filters_and_pages(web: Web) -> None:
    drone = unique_drone()
    start = datetime.now(UTC)
    scores = [3, 15, 8, 1, 19]  # critical, minor, major, critical, minor
    seqs = [
        await publish_alert(web.js, make_alert(drone, n, score=s)) for n, s in enumerate(scores)
    ]
    status, body = await web.get("/api/v1/alerts", since=start.isoformat())
    assert status == 200
    assert [a["seq"] for a in body["alerts"]] == seqs[::-1]
    assert body["next_before"] is None
    newest = body["alerts"][0]
    assert newest["alert_id"] == make_alert(drone, 4).alert_id
    assert (newest["status"], newest["incident_id"], newest["drone_id"]) == ("open", None, drone)
    assert newest["ts"] == "2026-11-28T10:00:04Z"

    status, body = await web.get("/api/v1/alerts", since="1m", severity="critical")
    assert [a["seq"] for a in body["alerts"] if a["drone_id"] == drone] == [seqs[3], seqs[0]]
    status, body = await web.get("/api/v1/alerts", severity="major,minor", status="open", limit="3")
    assert [a["seq"] for a in body["alerts"]] == [seqs[4], seqs[2], seqs[1]]

    status, page = await web.get("/api/v1/alerts", limit="2")
    assert [a["seq"] for a in page["alerts"]] == [seqs[4], seqs[3]]
    status, older = await web.get("/api/v1/alerts", limit="2", before=str(page["next_before"]))
    assert [a["seq"] for a in older["alerts"]] == [seqs[2], seqs[1]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit must be within 1..1000"),
        ("limit=1001", "limit must be within 1..1000"),
        ("limit=ten", "limit must be an integer"),
        ("status=closed", "status must be among open, acknowledged, resolved"),
        ("severity=high", "severity must be among critical, major, minor"),
        ("since=last+week", "neither RFC 3339"),
        ("since=2026-11-28T10:00:00", "neither RFC 3339"),
        ("before=0", "before must be within"),
        ("limit=1&limit=2", "limit given 2 times"),
        ("drone=x", "unknown parameter 'drone'"),
    ],
)
async def test_bad_list_parameters_are_400(web: Web, query: str, message: str) -> None:
    async with web.http.get(web.url + "/api/v1/alerts?" + query) as resp:
        assert resp.status == 400
        assert message in (await resp.json())["error"]


async def test_heartbeats_keep_an_idle_stream_open(stack: Any) -> None:
    options = WebOptions(incident_builder=None, sse_heartbeat_s=0.2)
    async with web_app(stack, options) as web:
        url = web.url + "/api/v1/alerts/stream"
        async with web.http.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            assert resp.headers["Cache-Control"] == "no-cache"
            lines = [await asyncio.wait_for(resp.content.readline(), 2) for _ in range(6)]
    assert lines[:3] == [b"retry: 1000\n", b": following ALERTS\n", b"\n"]
    assert lines[3:] == [b": keep-alive\n", b"\n", b": keep-alive\n"]


async def test_sse_and_incidents_survive_a_nats_server_restart(fresh_stack: Any) -> None:
    stack = fresh_stack
    drone = unique_drone()
    name = f"Enjolras {drone}"
    async with web_app(stack, builder_for(drone)) as web:
        reader = SseReader(web, drone)
        try:
            await asyncio.wait_for(reader.opened.wait(), 5)
            seqs = [await publish_alert(web.js, make_alert(drone, n, name)) for n in range(2)]
            await reader.wait_for(2)
            await asyncio.to_thread(services.kill_service, stack.settings, "nats")
            stack = await asyncio.to_thread(stack.refreshed)  # same ports, same data

            async def publish(n: int) -> int | None:
                try:
                    return await publish_alert(web.js, make_alert(drone, n, name))
                except Exception:  # reconnecting
                    return None

            for n in (2, 3):
                seqs.append(await eventually(lambda n=n: publish(n), timeout=30, interval=0.2))
            events = await reader.wait_for(4, timeout=30)
            assert [int(e.id or 0) for e, _ in events] == seqs

            async def counted() -> bool:
                _, body = await web.get("/api/v1/incidents", status="open")
                return any(i["citizen"] == name and i["count"] == 4 for i in body["incidents"])

            await eventually(counted, timeout=30)
            await asyncio.sleep(0.5)
            assert len(reader.events) == 4  # nothing replayed twice
        finally:
            await reader.close()
