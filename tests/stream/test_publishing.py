"""Atomic batch publishing against a real nats-server: every message acked or errored."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats
import pytest

from peaceland.contract import REPORTS_STREAM
from peaceland.stream import BatchWindow, GroupPublisher, OutMessage
from peaceland.stream.publishing import publish_batched

pytestmark = pytest.mark.slow


def messages(drone: str, count: int, start: int = 0) -> list[OutMessage]:
    return [
        OutMessage(f"peaceland.reports.{drone}", f"{i}".encode(), msg_id=f"{drone}:{i}")
        for i in range(start, start + count)
    ]


async def stored(js: Any, drone: str) -> list[bytes]:
    info = await js.stream_info(REPORTS_STREAM, subjects_filter=f"peaceland.reports.{drone}")
    count = sum((info.state.subjects or {}).values())
    sub = await js.subscribe(f"peaceland.reports.{drone}", ordered_consumer=True)
    data = [(await sub.next_msg(timeout=5)).data for _ in range(count)]
    await sub.unsubscribe()
    return data


async def test_batches_store_in_order_and_retries_are_deduplicated(stack: Any) -> None:
    drone = "pb-" + uuid.uuid4().hex[:10]
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        first = await publish_batched(nc, js, messages(drone, 1200), batch_size=500)
        assert all(not isinstance(r, Exception) for r in first)
        seqs = [r.seq for r in first if not isinstance(r, Exception)]
        assert len(set(seqs)) == 1200
        # A retry overlapping what is stored: whole batches are refused by JetStream, and
        # fall back to one-by-one publishing where duplicates are recognised per message.
        retry = await publish_batched(nc, js, messages(drone, 600, start=900), batch_size=500)
        duplicates = [bool(r.duplicate) for r in retry if not isinstance(r, Exception)]
        assert duplicates == [True] * 300 + [False] * 300
        # Chunks go concurrently: order across them is not kept, content is.
        assert sorted(await stored(js, drone), key=int) == [str(i).encode() for i in range(1500)]
    finally:
        await nc.drain()


async def test_batch_window_counts_every_message(stack: Any) -> None:
    drone = "pw-" + uuid.uuid4().hex[:10]
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        window = BatchWindow(nc, js, batch_size=100, max_in_flight=300)
        for msg in [*messages(drone, 1000), *messages(drone, 50)]:
            await window.add(msg)
            assert window.in_flight <= 300
        await window.drain()
        assert (window.acked, window.duplicates, window.errors) == (1050, 50, 0)
        assert window.in_flight == 0
        assert len(await stored(js, drone)) == 1000
    finally:
        await nc.drain()


async def test_a_missing_stream_is_an_error_for_each_message(stack: Any) -> None:
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        lost = [OutMessage(f"nowhere.{i}", b"x", msg_id=str(i)) for i in range(3)]
        results = await publish_batched(nc, js, lost, timeout=2)
        assert len(results) == 3
        assert all(isinstance(r, Exception) for r in results)
    finally:
        await nc.drain()


async def test_group_publisher_gives_each_caller_its_own_acks(stack: Any) -> None:
    drone = "pg-" + uuid.uuid4().hex[:10]
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        group = GroupPublisher(nc, js, max_batch=50, max_concurrent=2)
        singles = messages(drone, 300)
        # 300 concurrent callers of one message each, plus one re-sending ten of them.
        results = await asyncio.gather(
            *(group.publish([m]) for m in singles), group.publish(singles[:10])
        )
        assert all(len(r) == 1 for r in results[:-1])
        acks = [r[0] for r in results[:-1]]
        assert all(not isinstance(a, Exception) for a in acks)
        assert len({a.seq for a in acks if not isinstance(a, Exception)}) == 300
        assert len(results[-1]) == 10
        assert all(not isinstance(a, Exception) for a in results[-1])
        assert len(await stored(js, drone)) == 300
    finally:
        await nc.drain()
