"""Rate limits on ``/api/v1/*``: a token bucket per client, 429 with ``Retry-After`` beyond it.

The client is the credential of its ``Authorization`` header (a bearer token; kept as a short
hash, never in clear) when it sends one, else its remote address. Each gateway process keeps
its own buckets (``peaceland.rate_limit``), so N gateways behind a load balancer allow up to N
times the limit. Behind a proxy every client without a token shares the proxy's address.

Over the limit the answer is ``429`` with ``Retry-After`` (whole seconds, at least 1) and
``{"error": "..."}``. Other paths (``/healthz``, ``/metrics``, the dashboard) are not limited.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from peaceland.access import DEFAULT_MAX_CLIENTS, RateLimiter
from peaceland.web.responses import json_error

LIMITED_PREFIX: Final = "/api/v1/"


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests per second and burst per client; either at 0 switches limiting off."""

    per_s: float
    burst: int
    max_clients: int = DEFAULT_MAX_CLIENTS

    @property
    def enabled(self) -> bool:
        return self.per_s > 0 and self.burst > 0


LIMITER_KEY: Final = web.AppKey("rate_limiter", RateLimiter)


def client_key(request: web.BaseRequest) -> str:
    """The credential in ``Authorization`` (hashed) if any, else the remote address."""
    credentials = request.headers.get("Authorization", "").strip()
    if credentials:
        scheme, _, token = credentials.partition(" ")
        secret = token.strip() if scheme.lower() == "bearer" and token.strip() else credentials
        return "auth:" + hashlib.blake2b(secret.encode(), digest_size=16).hexdigest()
    return "addr:" + (request.remote or "unknown")


def rate_limit_middleware(limiter: RateLimiter) -> Middleware:
    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(LIMITED_PREFIX):
            wait = limiter.acquire(client_key(request))
            if wait > 0:
                refusal = json_error(
                    429, f"too many requests: over {limiter.rate_per_s:g}/s; retry later"
                )
                refusal.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return refusal
        return await handler(request)

    return limit


def add_rate_limits(
    app: web.Application,
    limit: RateLimit | None,
    *,
    clock: Callable[[], float] | None = None,
) -> None:
    """Limit ``/api/v1/*`` of ``app``; ``None`` or a disabled limit adds nothing."""
    if limit is None or not limit.enabled:
        return
    limiter = RateLimiter(
        limit.per_s, limit.burst, max_clients=limit.max_clients, clock=clock or time.monotonic
    )
    app[LIMITER_KEY] = limiter
    app.middlewares.append(rate_limit_middleware(limiter))
