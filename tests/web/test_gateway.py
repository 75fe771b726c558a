"""HTTP ingest against a real nats-server: 202 only after JetStream acknowledged."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import ClientSession
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from peaceland.access import Role
from peaceland.contract import DEADLETTER_STREAM, ERROR_HEADER, MSG_ID_HEADER, REPORTS_STREAM
from peaceland.stream import ensure_streams

if TYPE_CHECKING:  # for the type checker only: never import a conftest at run time
    from peaceland.testing import Stack

pytestmark = pytest.mark.slow


def report(drone_id: str, minute: int = 0, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "drone_id": drone_id,
        "ts": f"2026-11-28T10:{minute:02d}:00Z",
        "lat": 48.85,
        "lon": 2.35,
        "citizens": [{"name": "Ada Lovelace", "peacescore": 80}],
        "words": ["bonjour", "calme"],
    }
    body.update(fields)
    return body


def unique_drone() -> str:
    return "gw-" + uuid.uuid4().hex[:12]


async def subject_count(js: JetStreamContext, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


class Gateway:
    def __init__(self, url: str, nc: NatsClient, http: ClientSession) -> None:
        self.url = url
        self.nc = nc
        self.js = nc.jetstream()
        self.http = http

    async def post(self, body: bytes | Any) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(self.url + "/api/v1/reports", data=data) as resp:
            return resp.status, await resp.json()


@asynccontextmanager
async def start_gateway(stack: Stack) -> AsyncIterator[Gateway]:
    """The full app on a test server; requests carry a new drone token."""
    async with stack.serve_app(role=Role.DRONE) as served:
        yield Gateway(served.url, served.nc, served.http)


@pytest.fixture
async def gateway(stack: Any) -> AsyncIterator[Gateway]:
    async with start_gateway(stack) as gw:
        yield gw


async def test_single_report_is_stored_untouched_with_its_msg_id(gateway: Gateway) -> None:
    drone = unique_drone()
    raw = json.dumps(report(drone), separators=(", ", ": ")).encode()
    status, answer = await gateway.post(raw)
    assert (status, answer) == (202, {"accepted": 1, "duplicates": 0, "errors": []})
    msg = await gateway.js.get_last_msg(REPORTS_STREAM, f"peaceland.reports.{drone}")
    assert msg.data == raw
    assert msg.headers is not None
    assert msg.headers[MSG_ID_HEADER] == f"{drone}:2026-11-28T10:00:00Z"


async def test_batch_accepts_valid_items_and_dead_letters_the_rest(gateway: Gateway) -> None:
    drone = unique_drone()
    items = [
        report(drone, 1),
        report(drone, 2, lat=91),
        report(drone, 3),
        report(drone, 4, citizens=[{"name": "X", "peacescore": 101}]),
        report(drone, 5),
    ]
    status, answer = await gateway.post(items)
    assert status == 202
    assert answer["accepted"] == 3
    assert [e["index"] for e in answer["errors"]] == [1, 3]
    assert "lat" in answer["errors"][0]["error"]
    assert "peacescore" in answer["errors"][1]["error"]
    assert await subject_count(gateway.js, REPORTS_STREAM, f"peaceland.reports.{drone}") == 3
    dead = await gateway.js.get_last_msg(DEADLETTER_STREAM, "peaceland.deadletter.gateway")
    assert dead.headers is not None
    assert "peacescore" in dead.headers[ERROR_HEADER]
    assert dead.data is not None
    assert json.loads(dead.data) == items[3]


async def test_nothing_valid_is_422_and_dead_lettered(gateway: Gateway) -> None:
    before = await subject_count(gateway.js, DEADLETTER_STREAM, "peaceland.deadletter.gateway")
    status, answer = await gateway.post([report("bad drone"), {"hello": 1}])
    assert status == 422
    assert answer["accepted"] == 0
    assert len(answer["errors"]) == 2
    assert "drone_id" in answer["errors"][0]["error"]
    after = await subject_count(gateway.js, DEADLETTER_STREAM, "peaceland.deadletter.gateway")
    assert after == before + 2


async def test_not_json_is_422_with_the_body_dead_lettered_untouched(gateway: Gateway) -> None:
    status, answer = await gateway.post(b"\xff\xfe not json")
    assert status == 422
    assert answer["errors"][0]["index"] == 0
    dead = await gateway.js.get_last_msg(DEADLETTER_STREAM, "peaceland.deadletter.gateway")
    assert dead.data == b"\xff\xfe not json"


@pytest.mark.parametrize("bad_id", ["a.b", "a*", "a>", "x y", "a.>"])
async def test_subject_breaking_drone_ids_never_reach_a_subject(
    gateway: Gateway, bad_id: str
) -> None:
    status, answer = await gateway.post(report(bad_id))
    assert status == 422
    assert "drone_id" in answer["error"]
    info = await gateway.js.stream_info(REPORTS_STREAM, subjects_filter="peaceland.reports.>")
    assert not any(bad_id in subject for subject in (info.state.subjects or {}))


async def test_oversize_report_is_413(gateway: Gateway) -> None:
    status, answer = await gateway.post(report(unique_drone(), words=["w" * 90] * 800))
    assert status == 413
    assert "65536-byte limit" in answer["error"]


async def test_body_over_the_limit_is_413(gateway: Gateway) -> None:
    drone = unique_drone()
    big = [report(drone, m % 60, report_id=f"{drone}-{m}") for m in range(2500)]
    status, answer = await gateway.post(big)
    assert status == 413
    assert "limit" in answer["error"]
    assert await subject_count(gateway.js, REPORTS_STREAM, f"peaceland.reports.{drone}") == 0


async def test_a_resent_report_is_stored_once(gateway: Gateway) -> None:
    drone = unique_drone()
    first = await gateway.post(report(drone))
    second = await gateway.post(report(drone))
    assert first == (202, {"accepted": 1, "duplicates": 0, "errors": []})
    assert second == (202, {"accepted": 1, "duplicates": 1, "errors": []})
    assert await subject_count(gateway.js, REPORTS_STREAM, f"peaceland.reports.{drone}") == 1


async def test_healthz(gateway: Gateway) -> None:
    async with gateway.http.get(gateway.url + "/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["nats"] == "connected"


async def test_no_stream_means_503_not_202(fresh_stack: Any) -> None:
    """When JetStream does not acknowledge, the drone is told to retry, never 202."""
    async with start_gateway(fresh_stack) as gw:
        await gw.js.delete_stream(REPORTS_STREAM)
        status, answer = await gw.post(report(unique_drone()))
        assert status == 503
        assert "retry" in answer["error"]
        await ensure_streams(gw.js)
        status, _ = await gw.post(report(unique_drone()))
        assert status == 202


async def test_a_resent_batch_is_stored_once_and_reported_as_duplicates(
    gateway: Gateway,
) -> None:
    drone = unique_drone()
    batch = [report(drone, minute) for minute in range(40)]
    first = await gateway.post(batch)
    partly_new = await gateway.post([*batch[:20], report(drone, 50)])
    again = await gateway.post(batch)
    assert first == (202, {"accepted": 40, "duplicates": 0, "errors": []})
    assert partly_new == (202, {"accepted": 21, "duplicates": 20, "errors": []})
    assert again == (202, {"accepted": 40, "duplicates": 40, "errors": []})
    assert await subject_count(gateway.js, REPORTS_STREAM, f"peaceland.reports.{drone}") == 41
    last = await gateway.js.get_last_msg(REPORTS_STREAM, f"peaceland.reports.{drone}")
    assert last.data is not None
    assert json.loads(last.data)["ts"] == "2026-11-28T10:50:00Z"
