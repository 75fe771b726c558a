"""Pull requests: where they go, what they say, and how often a lost consumer is re-created."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import msgspec

#: Seconds between attempts to (re)create the consumer: the first wait, doubling to the last.
ENSURE_BACKOFF_S: Final = (0.1, 2.0)
JS_API_PREFIX: Final = "$JS.API"

_encode = msgspec.json.Encoder().encode


def next_subject(stream: str, consumer: str) -> str:
    """Where pull requests for ``consumer`` of ``stream`` are sent."""
    return f"{JS_API_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{consumer}"


def pull_request(
    batch: int, expires_s: float, *, max_bytes: int = 0, heartbeat_s: float = 0.0
) -> bytes:
    """The body of one pull request (times in nanoseconds, zero fields left out)."""
    request: dict[str, int] = {"batch": batch, "expires": int(expires_s * 1e9)}
    if max_bytes:
        request["max_bytes"] = max_bytes
    if heartbeat_s:
        request["idle_heartbeat"] = int(heartbeat_s * 1e9)
    return _encode(request)


class Backoff:
    """Waits between attempts: ``first`` doubling to ``last``, back to ``first`` on success."""

    def __init__(
        self,
        first: float = ENSURE_BACKOFF_S[0],
        last: float = ENSURE_BACKOFF_S[1],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.first, self.last, self.clock = first, last, clock
        self._wait = first
        self._next = 0.0

    def ready(self) -> bool:
        """Whether an attempt is allowed now; if so, the next one is pushed back."""
        now = self.clock()
        if now < self._next:
            return False
        self._next = now + self._wait
        self._wait = min(self._wait * 2, self.last)
        return True

    def remaining(self) -> float:
        """Seconds until the next attempt is allowed."""
        return max(0.0, self._next - self.clock())

    def reset(self) -> None:
        self._wait = self.first
        self._next = 0.0
