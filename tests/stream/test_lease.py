"""Leases against a real nats-server: one holder at a time, handed over on release or expiry,
and work cancelled when its lease is taken away."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from peaceland.stream import BucketSpec, Lease, LeaseLost, open_bucket

pytestmark = pytest.mark.slow

TTL_S = 2.0


async def bucket(nc: NatsClient) -> KeyValue:
    spec = BucketSpec("LEASETEST_" + uuid.uuid4().hex[:10].upper(), "test leases", ttl_s=TTL_S)
    return await open_bucket(nc.jetstream(), spec)


async def test_one_holder_at_a_time_until_released(nc: NatsClient) -> None:
    kv = await bucket(nc)
    first, second = Lease(kv, "job", "first", TTL_S), Lease(kv, "job", "second", TTL_S)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewing its own
    assert (await kv.get("job")).value == b"first"
    await first.release()
    assert not first.held
    assert await second.acquire()  # at once, without waiting for the expiry
    assert not await first.acquire()


async def test_an_expired_lease_goes_to_the_next_and_the_old_holder_knows(
    nc: NatsClient,
) -> None:
    kv = await bucket(nc)
    first, second = Lease(kv, "job", "first", TTL_S), Lease(kv, "job", "second", TTL_S)
    assert await first.acquire()
    deadline = asyncio.get_running_loop().time() + 10 * TTL_S
    while not await second.acquire():  # the server expires the value TTL_S after its write
        assert asyncio.get_running_loop().time() < deadline, "the lease never expired"
        await asyncio.sleep(0.2)
    assert not await first.acquire()  # its renewal is refused: the revision moved on
    assert not first.held


async def test_work_is_cancelled_when_its_lease_is_taken(nc: NatsClient) -> None:
    kv = await bucket(nc)
    holder = Lease(kv, "job", "holder", TTL_S)
    assert await holder.acquire()
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def usurp() -> None:  # an operator deletes the key; another process takes it
        await asyncio.sleep(0.1)
        await kv.delete("job")
        assert await Lease(kv, "job", "usurper", TTL_S).acquire()

    usurper = asyncio.create_task(usurp())
    with pytest.raises(LeaseLost):
        await asyncio.wait_for(holder.hold(work()), 10 * TTL_S)
    await usurper
    assert cancelled.is_set()


async def test_work_that_ends_returns_its_result_and_keeps_the_lease(nc: NatsClient) -> None:
    kv = await bucket(nc)
    holder = Lease(kv, "job", "holder", TTL_S)
    assert await holder.acquire()

    async def work() -> int:
        await asyncio.sleep(TTL_S * 1.5)  # longer than the TTL: renewed meanwhile
        return 42

    assert await holder.hold(work()) == 42
    assert not await Lease(kv, "job", "other", TTL_S).acquire()
