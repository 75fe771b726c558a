"""Pull requests: where they go, what they say, and how often a lost consumer is re-created
(``Backoff``, shared with publishing: ``peaceland.stream.retry``)."""

from __future__ import annotations

from typing import Final

import msgspec

from peaceland.stream.retry import BACKOFF_S, Backoff

__all__ = ["ENSURE_BACKOFF_S", "JS_API_PREFIX", "Backoff", "next_subject", "pull_request"]

#: Seconds between attempts to (re)create the consumer: the first wait, doubling to the last.
ENSURE_BACKOFF_S: Final = BACKOFF_S
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
