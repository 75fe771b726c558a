"""The per-client rate limit on the full app (``create_app``) against the session stack."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from http_controls_helpers import served

from peaceland.web.app import WebOptions
from peaceland.web.limits import RateLimit

pytestmark = pytest.mark.slow

BURST = 3


def limited(per_s: float = 1.0, burst: int = BURST) -> WebOptions:
    return WebOptions(incident_builder=None, rate_limit=RateLimit(per_s, burst))


async def test_over_the_burst_is_429_with_retry_after_then_allowed_again(stack: Any) -> None:
    async with served(stack, limited()) as client:
        for _ in range(BURST):
            status, body, _ = await client.call("GET", "/api/v1/stats", role="viewer")
            assert status == 200, body
        status, body, headers = await client.call("GET", "/api/v1/stats", role="viewer")
        assert status == 429
        assert body == {"error": "too many requests: over 1/s; retry later"}
        assert headers["Retry-After"] == "1"
        # Any /api/v1/ route counts against the same bucket.
        status, _, _ = await client.call("GET", "/api/v1/alerts", role="viewer")
        assert status == 429
        await asyncio.sleep(float(headers["Retry-After"]) + 0.1)
        status, body, _ = await client.call("GET", "/api/v1/stats", role="viewer")
        assert status == 200, body
        # The refusals are counted for monitoring.
        async with client.http.get(client.url + "/metrics") as resp:
            assert "peaceland_rate_limit_refused_total 2.0" in await resp.text()


async def test_each_token_has_its_own_bucket_and_other_paths_are_free(stack: Any) -> None:
    async with served(stack, limited(per_s=0.01)) as client:
        for _ in range(BURST):
            assert (await client.call("GET", "/api/v1/stats", role="viewer"))[0] == 200
        assert (await client.call("GET", "/api/v1/stats", role="viewer"))[0] == 429
        # Another client (another token, same address) is not affected.
        assert (await client.call("GET", "/api/v1/stats", role="admin"))[0] == 200
        # Outside /api/v1/ nothing is limited.
        for _ in range(2 * BURST):
            status, body, _ = await client.call("GET", "/healthz", role="viewer")
            assert status == 200, body


async def test_without_a_token_the_address_is_the_client(stack: Any) -> None:
    async with served(stack, limited(per_s=0.01)) as client:
        statuses = [(await client.call("GET", "/api/v1/stats", role=None))[0] for _ in range(5)]
        # Refused for want of a token at first (if the app requires one), then limited.
        assert statuses[BURST:] == [429, 429]
        assert len(set(statuses[:BURST])) == 1
        assert statuses[0] != 429
        # A client with a token is another client.
        assert (await client.call("GET", "/api/v1/stats", role="viewer"))[0] == 200


async def test_disabled_limit_never_refuses(stack: Any) -> None:
    async with served(stack, limited(per_s=0)) as client:
        for _ in range(4 * BURST):
            assert (await client.call("GET", "/api/v1/stats", role="viewer"))[0] == 200
