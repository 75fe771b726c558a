"""Token buckets per client, pure: time comes from an injected clock.

    limiter = RateLimiter(rate_per_s=5000, burst=10000)
    wait = limiter.acquire("client key")   # 0.0: go ahead; > 0: seconds until allowed

Each client has a bucket of ``burst`` tokens refilled at ``rate_per_s``; a request takes one.
A client may thus send ``burst`` requests at once, then ``rate_per_s`` a second for as long as
it likes. Memory is bounded: at most ``max_clients`` buckets are kept, the least recently seen
is dropped first. A dropped client starts again with a full bucket, which is what it would
have after ``burst / rate_per_s`` seconds of silence anyway; only when more clients than
``max_clients`` are active at once can a busy one lose its debt.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

DEFAULT_MAX_CLIENTS: Final = 100_000


class RateLimiter:
    """Per-key token buckets; not thread-safe (one event loop uses it)."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError(f"rate_per_s must be a positive number, got {rate_per_s!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1, got {max_clients!r}")
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        #: key -> [tokens, time of the last refill], the least recently seen first.
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        #: Requests refused so far (``peaceland_rate_limit_refused_total``).
        self.refused = 0

    def acquire(self, key: str) -> float:
        """Take a token for ``key``: ``0.0`` when it had one, else the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [float(self.burst), now]
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = now - bucket[1]
            if elapsed > 0:  # a clock that went back gives nothing, now or later
                bucket[0] = min(float(self.burst), bucket[0] + elapsed * self.rate_per_s)
                bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        self.refused += 1
        return (1.0 - bucket[0]) / self.rate_per_s

    def __len__(self) -> int:
        """The number of clients remembered."""
        return len(self._buckets)
