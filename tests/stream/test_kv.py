"""Key-value buckets against a real nats-server: created once, bound by everyone after."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import BucketNotFoundError

from peaceland.stream import BucketSpec, open_bucket

pytestmark = pytest.mark.slow


def unique_spec(**options: Any) -> BucketSpec:
    return BucketSpec("KVTEST_" + uuid.uuid4().hex[:10].upper(), "test bucket", **options)


async def test_a_missing_bucket_is_created_from_its_spec(nc: NatsClient) -> None:
    spec = unique_spec(history=3, ttl_s=3600.0)
    js = nc.jetstream()
    kv = await open_bucket(js, spec)
    await kv.put("k", b"v")
    status = await kv.status()
    assert status.bucket == spec.name
    assert status.history == 3
    assert status.ttl == pytest.approx(3600.0)
    info = await js.stream_info("KV_" + spec.name)
    assert info.config.description == "test bucket"
    again = await open_bucket(js, spec)
    assert (await again.get("k")).value == b"v"


async def test_without_create_a_missing_bucket_is_an_error(nc: NatsClient) -> None:
    spec = unique_spec()
    with pytest.raises(BucketNotFoundError):
        await open_bucket(nc.jetstream(), spec, create=False)
    await open_bucket(nc.jetstream(), spec)
    bound = await open_bucket(nc.jetstream(), spec, create=False)
    assert (await bound.status()).bucket == spec.name


async def test_racing_openers_share_one_bucket_and_keep_its_settings(stack: Any) -> None:
    spec = unique_spec()
    clients = [await nats.connect(stack.endpoints.nats_url) for _ in range(4)]
    try:
        buckets = await asyncio.gather(*(open_bucket(nc.jetstream(), spec) for nc in clients))
        await buckets[0].put("shared", b"1")
        for kv in buckets:
            assert (await kv.get("shared")).value == b"1"
        # An existing bucket is used as it is, whatever the spec says now.
        changed = BucketSpec(spec.name, "other", history=5)
        status = await (await open_bucket(clients[0].jetstream(), changed)).status()
        assert status.history == 1
    finally:
        for nc in clients:
            await nc.drain()
