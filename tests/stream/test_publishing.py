"""The one publisher against a real nats-server: single, without waiting, atomic batches, the
bounded window and group commit; every message acked or errored."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import MaxPayloadError

from peaceland.contract import ERROR_HEADER, MSG_ID_HEADER, REPORTS_STREAM
from peaceland.stream import OutMessage, Publisher, deadletter_message, in_atomic_batch
from peaceland.stream.publish import BATCH_ID_HEADER

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


async def test_batches_store_in_order_and_retries_are_deduplicated(nc: NatsClient) -> None:
    drone = "pb-" + uuid.uuid4().hex[:10]
    js = nc.jetstream()
    publisher = Publisher(nc)
    first = await publisher.publish_batched(messages(drone, 1200), batch_size=500)
    assert all(not isinstance(r, Exception) for r in first)
    seqs = [r.seq for r in first if not isinstance(r, Exception)]
    assert len(set(seqs)) == 1200
    # A retry overlapping what is stored: whole batches are refused by JetStream, and
    # fall back to one-by-one publishing where duplicates are recognised per message.
    retry = await publisher.publish_batched(messages(drone, 600, start=900), batch_size=500)
    duplicates = [bool(r.duplicate) for r in retry if not isinstance(r, Exception)]
    assert duplicates == [True] * 300 + [False] * 300
    # Chunks go concurrently: order across them is not kept, content is.
    assert sorted(await stored(js, drone), key=int) == [str(i).encode() for i in range(1500)]


async def test_batch_window_counts_every_message(nc: NatsClient) -> None:
    drone = "pw-" + uuid.uuid4().hex[:10]
    js = nc.jetstream()
    window = Publisher(nc).window(batch_size=100, max_in_flight=300)
    for msg in [*messages(drone, 1000), *messages(drone, 50)]:
        await window.add(msg)
        assert window.in_flight <= 300
    await window.drain()
    assert (window.acked, window.duplicates, window.errors) == (1050, 50, 0)
    assert window.in_flight == 0
    assert len(await stored(js, drone)) == 1000


async def test_a_missing_stream_is_an_error_for_each_message(nc: NatsClient) -> None:
    publisher = Publisher(nc, timeout=2)
    lost = [OutMessage(f"nowhere.{i}", b"x", msg_id=str(i)) for i in range(3)]
    for results in (
        await publisher.publish_batched(lost),
        await publisher.publish_all(lost),
        await publisher.collect(await publisher.send(lost)),
    ):
        assert len(results) == 3
        assert all(isinstance(r, Exception) for r in results)


async def test_group_publisher_gives_each_caller_its_own_acks(nc: NatsClient) -> None:
    drone = "pg-" + uuid.uuid4().hex[:10]
    js = nc.jetstream()
    group = Publisher(nc).group(max_batch=50, max_concurrent=2)
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


async def test_send_then_collect_acks_each_message_and_fails_only_the_oversized(
    nc: NatsClient,
) -> None:
    drone = "ps-" + uuid.uuid4().hex[:10]
    publisher = Publisher(nc, timeout=5)
    huge = OutMessage(f"peaceland.reports.{drone}", b"x" * (nc.max_payload + 1))
    outgoing = [*messages(drone, 3), huge, *messages(drone, 2, start=3)]
    sent = await publisher.send(outgoing)
    assert isinstance(sent[3], MaxPayloadError)  # refused before it reaches the client
    results = await publisher.collect(sent)
    assert [isinstance(r, Exception) for r in results] == [False] * 3 + [True] + [False] * 2
    # Sent again: the same ids, every one recognised as a duplicate.
    again = await publisher.collect(await publisher.send(messages(drone, 3)))
    assert [getattr(r, "duplicate", None) for r in again] == [True] * 3
    single = await publisher.publish(messages(drone, 1, start=4)[0])
    assert single.duplicate
    assert len(await stored(nc.jetstream(), drone)) == 5


async def test_messages_of_an_atomic_batch_are_marked_in_flight(nc: NatsClient) -> None:
    drone = "pm-" + uuid.uuid4().hex[:10]
    seen: list[bool] = []
    sub = await nc.subscribe(f"peaceland.reports.{drone}")
    await nc.flush()
    publisher = Publisher(nc)
    await publisher.publish_batched(messages(drone, 3))
    await publisher.publish(messages(drone, 1, start=3)[0])
    for _ in range(4):
        seen.append(in_atomic_batch((await sub.next_msg(timeout=5)).headers))
    assert seen == [True, True, True, False]
    await sub.unsubscribe()


def test_dead_letters_keep_the_payload_and_one_line_of_reason() -> None:
    out = deadletter_message("gateway", b"\xff raw", "bad\n  json\t here" + "x" * 2000, msg_id="k")
    assert out.subject == "peaceland.deadletter.gateway"
    assert out.payload == b"\xff raw"
    headers = out.all_headers()
    assert headers is not None
    assert headers[ERROR_HEADER].startswith("bad json here")
    assert len(headers[ERROR_HEADER]) == 1000
    assert headers[MSG_ID_HEADER] == "k"
    assert OutMessage("s", b"").all_headers() is None
    assert not in_atomic_batch(None)
    assert in_atomic_batch({BATCH_ID_HEADER: "abc"})
