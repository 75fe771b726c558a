"""Putting an object until the store takes it: the archive's answer to a store outage.

A put is retried with jittered exponential backoff, forever, while the archiver runs (nothing
is acknowledged meanwhile, so the backlog stays in JetStream); once told to stop, it is retried
for ``grace_s`` more, then given up (the messages stay unacknowledged and come back).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Callable

from peaceland.contract import StoreError
from peaceland.storage import ObjectStore

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class PutRetry:
    initial_s: float
    max_s: float
    #: After stop, how long a failing store is retried before giving up.
    grace_s: float


async def put_until_stored(
    store: ObjectStore,
    key: str,
    data: bytes,
    retry: PutRetry,
    stop: asyncio.Event,
    clock: Callable[[], float],
    on_error: Callable[[StoreError], None],
    what: str,
) -> bool:
    """Put ``data`` at ``key``; False when stopped and the store still failed after grace."""
    delay = retry.initial_s
    failures = 0
    give_up_at: float | None = None
    while True:
        try:
            await store.put(key, data)
        except StoreError as exc:
            failures += 1
            on_error(exc)
            if failures == 1 or failures % 10 == 0:
                log.warning("%s (attempt %d, next in %.1f s)", exc, failures, delay)
        else:
            if failures:
                log.info("%s: store back after %d failed attempts", what, failures)
            return True
        if stop.is_set():
            give_up_at = give_up_at or clock() + retry.grace_s
            if clock() >= give_up_at:
                return False
        await _pause(stop, delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, retry.max_s)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake up when stopped (to give up in time)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    if stop.is_set():
        await asyncio.sleep(min(seconds, 0.5))
