"""The alerter against a real nats-server: exact alerts, dead letters, redelivery, scale-out,
SIGKILL and SIGTERM of the ``peaceland alerter`` process.

Each test has its own drone id and its own durable filtered on that drone's subject, so tests
never see each other's reports on the shared stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api

from peaceland.alerting import AlerterOptions
from peaceland.alerting.alerter import Alerter
from peaceland.alerting.rules import PeacescoreRule, Rule, default_rules
from peaceland.contract import (
    ALERTS_STREAM,
    DEADLETTER_STREAM,
    ERROR_HEADER,
    MSG_ID_HEADER,
    Alert,
    Report,
    decode_alert,
    report_subject,
)
from peaceland.servers import services
from peaceland.stream import OutMessage, Publisher, connect, consumer_lag

pytestmark = pytest.mark.slow

BASE_TS = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def unique_drone() -> str:
    return "al-" + uuid.uuid4().hex[:12]


def report(drone: str, n: int, citizens: Iterable[tuple[str, int]] = (), **extra: Any) -> bytes:
    ts = (BASE_TS + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
    body: dict[str, Any] = {
        "drone_id": drone,
        "ts": ts,
        "lat": 48.85,
        "lon": 2.35,
        "citizens": [{"name": name, "peacescore": score} for name, score in citizens],
        "words": ["bonjour", "marché"],
    }
    body.update(extra)
    return json.dumps(body).encode()


def report_id(drone: str, n: int) -> str:
    return f"{drone}:{(BASE_TS + timedelta(seconds=n)).isoformat().replace('+00:00', 'Z')}"


def options_for(drone: str, **overrides: Any) -> AlerterOptions:
    defaults: dict[str, Any] = {
        "durable": "test-alerter-" + drone,
        "filter_subject": report_subject(drone),
        "max_wait_s": 0.2,
    }
    defaults.update(overrides)
    return AlerterOptions(**defaults)


@contextlib.asynccontextmanager
async def connected(stack: Any) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        yield nc
    finally:
        await nc.drain()


@contextlib.asynccontextmanager
async def running(
    nc: NatsClient, options: AlerterOptions, rules: Iterable[Rule] | None = None
) -> AsyncIterator[Alerter]:
    alerter = Alerter(nc, tuple(rules) if rules is not None else default_rules(), options)
    stop = asyncio.Event()
    task = asyncio.create_task(alerter.run(stop))
    try:
        yield alerter
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.1)


async def read_subject(js: JetStreamContext, stream: str, subject: str) -> list[Msg]:
    """Every message a stream holds on ``subject``, oldest first."""
    info = await js.stream_info(stream, subjects_filter=subject)
    expected = sum((info.state.subjects or {}).values())
    if expected == 0:
        return []
    config = js_api.ConsumerConfig(ack_policy=js_api.AckPolicy.NONE, inactive_threshold=5.0)
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    msgs: list[Msg] = []
    try:
        while len(msgs) < expected:
            msgs.extend(await sub.fetch(min(1000, expected - len(msgs)), timeout=5))
    finally:
        await sub.unsubscribe()
    return msgs


async def stored_alerts(js: JetStreamContext, drone: str) -> list[Alert]:
    msgs = await read_subject(js, ALERTS_STREAM, f"peaceland.alerts.{drone}")
    alerts = [decode_alert(m.data) for m in msgs]
    assert [(m.headers or {}).get(MSG_ID_HEADER) for m in msgs] == [a.alert_id for a in alerts]
    return alerts


async def alert_count(js: JetStreamContext, drone: str) -> int:
    info = await js.stream_info(ALERTS_STREAM, subjects_filter=f"peaceland.alerts.{drone}")
    return sum((info.state.subjects or {}).values())


async def drained(js: JetStreamContext, options: AlerterOptions) -> bool:
    return await consumer_lag(js, options.consumer_spec()) == (0, 0)


async def test_crafted_reports_yield_exactly_the_expected_alerts(stack: Any) -> None:
    drone = unique_drone()
    options = options_for(drone)
    async with connected(stack) as nc:
        js = nc.jetstream()
        live: list[Msg] = []
        await nc.subscribe("peaceland.alerts.>", cb=_collect(live, drone))
        reports = [
            report(drone, 0, [("At Threshold", 20), ("Just Under", 19)]),
            report(drone, 1, [("A", 0), ("B", 4), ("C", 5), ("D", 11), ("E", 12), ("F", 80)]),
            report(drone, 2, []),
            report(drone, 3, [("Zoë Ñúñez", 3), ("李小龙", 15), ("Ольга", 90)]),
            report(drone, 4, [("Calm", 100)], report_id="custom-id-4"),
            report(drone, 5, [("Custom", 7)], report_id="custom-id-5", mood="tense"),
        ]
        for payload in reports:
            await js.publish(report_subject(drone), payload)
        # The same report again, stored twice (no Nats-Msg-Id): its alerts must not double.
        await js.publish(report_subject(drone), reports[1])
        async with running(nc, options) as alerter:
            await eventually(lambda: drained(js, options))
        expected = {
            (report_id(drone, 0) + "/1", "Just Under", 19, "minor"),
            (report_id(drone, 1) + "/0", "A", 0, "critical"),
            (report_id(drone, 1) + "/1", "B", 4, "critical"),
            (report_id(drone, 1) + "/2", "C", 5, "major"),
            (report_id(drone, 1) + "/3", "D", 11, "major"),
            (report_id(drone, 1) + "/4", "E", 12, "minor"),
            (report_id(drone, 3) + "/0", "Zoë Ñúñez", 3, "critical"),
            (report_id(drone, 3) + "/1", "李小龙", 15, "minor"),
            ("custom-id-5/0", "Custom", 7, "major"),
        }
        alerts = await stored_alerts(js, drone)
        assert len(alerts) == len(expected)
        assert {(a.alert_id, a.citizen, a.peacescore, a.severity) for a in alerts} == expected
        assert all((a.drone_id, a.lat, a.lon) == (drone, 48.85, 2.35) for a in alerts)
        assert all(a.words == ["bonjour", "marché"] for a in alerts)
        assert all(datetime.fromisoformat(a.raised_at).tzinfo is not None for a in alerts)
        assert alerts[0].ts == BASE_TS
        c = alerter.counters
        assert (c.reports_seen, c.alerts_raised, c.alert_duplicates) == (7, 9, 5)
        assert c.dead_letters == 0
        await eventually(lambda: _true(len(live) >= 9 + 5), timeout=5)
        assert {decode_alert(m.data).alert_id for m in live} == {e[0] for e in expected}


async def test_invalid_reports_are_dead_lettered_with_a_reason_and_do_not_stall(
    stack: Any,
) -> None:
    drone = unique_drone()
    options = options_for(drone)
    marker = drone.encode()
    bad = {
        b"not json " + marker: "not JSON",
        b'{"drone_id": "' + marker + b'"}': "missing required field 'ts'",
        report(drone, 1, lat=123): "lat 123 out of range -90..90",
        report(drone, 2, [("X", 101)]): "citizens[0].peacescore must be an integer 0..100",
        report(drone, 3, words=["w" * 70_000]): "over the 65536-byte limit",
        report("impostor", 4, [("Victim", 1)], tag=drone): (
            f"drone_id 'impostor' does not match the subject 'peaceland.reports.{drone}'"
        ),
    }
    async with connected(stack) as nc:
        js = nc.jetstream()
        for payload in bad:
            await js.publish(report_subject(drone), payload)
        await js.publish(report_subject(drone), report(drone, 9, [("After", 2)]))
        async with running(nc, options) as alerter:
            await eventually(lambda: drained(js, options))
        assert alerter.counters.dead_letters == len(bad)
        letters = await read_subject(js, DEADLETTER_STREAM, "peaceland.deadletter.alerter")
        mine = {m.data: m for m in letters if m.data in bad}
        assert set(mine) == set(bad)
        for payload, reason in bad.items():
            assert reason in (mine[payload].headers or {})[ERROR_HEADER]
        [alert] = await stored_alerts(js, drone)
        assert alert.citizen == "After"


async def test_reprocessing_a_report_never_stores_an_alert_twice(stack: Any) -> None:
    drone = unique_drone()
    async with connected(stack) as nc:
        js = nc.jetstream()
        for n in range(20):
            await js.publish(report_subject(drone), report(drone, n, [("Bad", n % 20)]))
        first, second = options_for(drone), options_for(drone, durable=f"test-again-{drone}")
        async with running(nc, first) as one:
            await eventually(lambda: drained(js, first))
        async with running(nc, second) as two:  # a second pass over the same reports
            await eventually(lambda: drained(js, second))
        assert (one.counters.alerts_raised, one.counters.alert_duplicates) == (20, 0)
        assert (two.counters.alerts_raised, two.counters.alert_duplicates) == (0, 20)
        assert await alert_count(js, drone) == 20


async def test_two_alerters_share_the_work_and_raise_each_alert_once(stack: Any) -> None:
    drone = unique_drone()
    options = options_for(drone, batch=50)
    expected = await _publish_load(stack, drone, 3000)
    async with connected(stack) as nc1, connected(stack) as nc2:
        js1 = nc1.jetstream()
        async with running(nc1, options) as one, running(nc2, options) as two:
            await eventually(lambda: drained(js1, options), timeout=60)
        assert one.counters.reports_seen > 0
        assert two.counters.reports_seen > 0
        raised = one.counters.alerts_raised + two.counters.alerts_raised
        assert raised == len(expected)
        alerts = await stored_alerts(js1, drone)
        assert sorted(a.alert_id for a in alerts) == sorted(expected)


async def test_publish_failure_is_retried_then_given_up_without_stalling(stack: Any) -> None:
    drone = unique_drone()
    options = options_for(drone, max_deliver=3, retry_delay_s=0.1)

    def oversized(r: Report, raised_at: str) -> list[Alert]:
        # An alert over the server's 1 MB payload limit: it can never be published.
        alerts = PeacescoreRule()(r, raised_at)
        if r.citizens and r.citizens[0].name == "Huge":
            return [msgspec.structs.replace(a, words=["x" * 100] * 12_000) for a in alerts]
        return alerts

    async with connected(stack) as nc:
        js = nc.jetstream()
        await js.publish(report_subject(drone), report(drone, 0, [("Huge", 1)]))
        await js.publish(report_subject(drone), report(drone, 1, [("Normal", 1)]))
        async with running(nc, options, rules=[oversized]) as alerter:
            await eventually(lambda: drained(js, options), timeout=20)
        c = alerter.counters
        assert (c.publish_failures, c.reports_given_up, c.alerts_raised) == (3, 1, 1)
        [alert] = await stored_alerts(js, drone)
        assert alert.citizen == "Normal"


async def test_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(
    stack: Any, tmp_path: Path
) -> None:
    drone = unique_drone()
    options = options_for(drone)
    log_file = tmp_path / "alerter.log"
    with log_file.open("wb") as log:
        first = await _spawn_alerter(stack, options, log)
        try:
            async with connected(stack) as nc:
                js = nc.jetstream()
                publisher = asyncio.create_task(_publish_load(stack, drone, 4000, pace_s=0.05))
                await eventually(lambda: _mid_stream(js, drone, options))
                first.kill()  # SIGKILL, mid-stream: reports in hand are never acknowledged
                await first.wait()
                expected = await publisher
                assert await alert_count(js, drone) < len(expected)
                second = await _spawn_alerter(stack, options, log)
                try:
                    # Reports in hand at the kill come back after ack_wait (10 s).
                    await eventually(lambda: drained(js, options), timeout=60)
                finally:
                    second.send_signal(signal.SIGTERM)
                    code = await asyncio.wait_for(second.wait(), 15)
                alerts = await stored_alerts(js, drone)
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
    output = log_file.read_text()
    assert code == 0, output
    assert "alerter stopped" in output
    assert sorted(a.alert_id for a in alerts) == sorted(expected)


async def test_fast_path_raises_alerts_before_storage_and_never_doubles_them(
    stack: Any,
) -> None:
    drone = unique_drone()
    options = options_for(drone)
    assert options.fast_path
    async with connected(stack) as nc:
        js = nc.jetstream()
        async with running(nc, options) as alerter:
            await nc.flush()
            await asyncio.sleep(0.2)  # the core subscription is in place
            for n in range(10):  # one at a time, as drones publish: the fast path sees them
                await js.publish(report_subject(drone), report(drone, n, [("Fast", 1)]))
            # An atomic batch may still be rolled back: left to the durable path.
            batch = [
                OutMessage(report_subject(drone), report(drone, n, [("Batched", 2)]))
                for n in range(10, 15)
            ]
            assert all(
                isinstance(r, js_api.PubAck) for r in await Publisher(nc).publish_batched(batch)
            )
            await eventually(lambda: drained(js, options))
            await eventually(lambda: _true(alerter.counters.alert_duplicates >= 10), timeout=5)
        c = alerter.counters
        assert (c.alerts_raised, c.fast_alerts, c.alert_duplicates) == (15, 10, 10)
        alerts = await stored_alerts(js, drone)
        assert sorted(a.citizen for a in alerts) == ["Batched"] * 5 + ["Fast"] * 10


async def test_alerter_survives_a_nats_server_restart(fresh_stack: Any) -> None:
    drone = unique_drone()
    options = options_for(drone)
    stack = fresh_stack
    alerter_nc = await connect(stack.endpoints.nats_url, "test-alerter")
    try:
        async with running(alerter_nc, options) as alerter:
            first = await _publish_load(stack, drone, 300)
            async with connected(stack) as nc:
                await eventually(lambda: _more_than(alert_count(nc.jetstream(), drone), 35))
            await asyncio.to_thread(services.kill_service, stack.settings, "nats")
            stack = await asyncio.to_thread(stack.refreshed)  # same ports, same data
            second = await _publish_load(stack, drone, 300, start=300)
            async with connected(stack) as nc:
                js = nc.jetstream()
                await eventually(lambda: drained(js, options), timeout=60)
                alerts = await stored_alerts(js, drone)
        assert sorted(a.alert_id for a in alerts) == sorted(first + second)
        assert alerter.counters.alerts_raised == len(first + second)
    finally:
        await alerter_nc.close()


async def _publish_load(
    stack: Any, drone: str, count: int, pace_s: float = 0, start: int = 0
) -> list[str]:
    """``count`` reports, one in ten with one or two agitated citizens, a pause of ``pace_s``
    every 100; returns the expected alert ids."""
    expected: list[str] = []
    async with connected(stack) as nc:
        js = nc.jetstream(publish_async_max_pending=1000)
        futures = []
        for n in range(start, start + count):
            citizens = [("Calm", 60)]
            if n % 10 == 0:
                citizens.append((f"Agitated {n}", n % 20))
                expected.append(f"{report_id(drone, n)}/1")
            if n % 50 == 0:
                citizens.append((f"Also {n}", 0))
                expected.append(f"{report_id(drone, n)}/2")
            futures.append(
                await js.publish_async(report_subject(drone), report(drone, n, citizens))
            )
            if pace_s and n % 100 == 99:
                await asyncio.sleep(pace_s)
        await asyncio.gather(*futures)
    return expected


async def _spawn_alerter(
    stack: Any, options: AlerterOptions, log: IO[bytes]
) -> asyncio.subprocess.Process:
    """``python -m peaceland alerter`` on the stack, with the test's durable and subject, and
    without the fast path: what survives a kill is the durable consumer's doing alone."""
    assert options.filter_subject is not None
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peaceland",
        "alerter",
        "--durable",
        options.durable,
        "--filter-subject",
        options.filter_subject,
        "--no-fast-path",
        env=stack.env(),
        stdout=log,
        stderr=log,
    )


def _collect(into: list[Msg], drone: str) -> Callable[[Msg], Awaitable[None]]:
    async def on_message(msg: Msg) -> None:
        if msg.subject == f"peaceland.alerts.{drone}":
            into.append(msg)

    return on_message


async def _true(value: bool) -> bool:
    return value


async def _mid_stream(js: JetStreamContext, drone: str, options: AlerterOptions) -> bool:
    """Some alerts stored, and reports delivered to the alerter but not yet acknowledged."""
    if await alert_count(js, drone) <= 20:
        return False
    lag = await consumer_lag(js, options.consumer_spec())
    return lag is not None and lag[1] > 0


async def _more_than(count: Awaitable[int], threshold: int) -> bool:
    return await count > threshold
