"""``PullSource`` against a real nats-server: shared durables, redelivery, verdicts."""

from __future__ import annotations

import uuid
from typing import Any

import nats
import pytest

from peaceland.bus import REPORTS_STREAM
from peaceland.consumer import ConsumerSpec, consumer_lag
from peaceland.pull import PROGRESS, TERM, PullSource, parse_ack_subject

pytestmark = pytest.mark.slow


def spec_for(drone: str, **settings: Any) -> ConsumerSpec:
    return ConsumerSpec(
        REPORTS_STREAM, "pull-" + drone, filter_subject=f"peaceland.reports.{drone}", **settings
    )


async def test_two_sources_on_one_durable_share_messages_without_overlap(stack: Any) -> None:
    drone = "ps-" + uuid.uuid4().hex[:10]
    spec = spec_for(drone)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        for i in range(300):
            await js.publish(f"peaceland.reports.{drone}", str(i).encode())
        first, second = PullSource(nc, spec), PullSource(nc, spec)
        seen: list[bytes] = []
        for _ in range(10):
            if len(seen) == 300:
                break
            for source in (first, second):
                msgs = await source.fetch(70, 0.5, 2**20)
                seen.extend(m.data for m in msgs)
                assert await source.settle([m.reply for m in msgs])
        assert sorted(seen, key=int) == [str(i).encode() for i in range(300)]
        assert await first.lag() == (0, 0)
        assert await first.fetch(10, 0.2, 2**20) == []  # nothing left: returns after the wait
        await first.close()
        await second.close()
    finally:
        await nc.drain()


async def test_unsettled_messages_come_back_and_verdicts_hold(stack: Any) -> None:
    drone = "ps-" + uuid.uuid4().hex[:10]
    spec = spec_for(drone, ack_wait_s=1.0)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        for payload in (b"dropped", b"kept", b"terminated"):
            await js.publish(f"peaceland.reports.{drone}", payload)
        source = PullSource(nc, spec)
        _, kept, terminated = await source.fetch(3, 1.0, 2**20)
        await source.settle([terminated.reply], TERM)
        redelivered = []
        for _ in range(5):  # 2.5 s, the ack wait is 1 s; "kept" is marked in progress
            await source.settle([kept.reply], PROGRESS)
            redelivered.extend(await source.fetch(3, 0.5, 2**20))
        assert {m.data for m in redelivered} == {b"dropped"}
        assert parse_ack_subject(redelivered[0].reply).delivered == 2
        assert await source.settle([m.reply for m in redelivered] + [kept.reply])
        assert await consumer_lag(js, spec) == (0, 0)
        await source.close()
    finally:
        await nc.drain()
