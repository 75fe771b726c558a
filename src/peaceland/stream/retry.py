"""Getting through a leader election: one backoff, and one rule for sending a publish again.

While a replicated stream or consumer elects a leader (about 6 s after its leader is killed,
measured on loopback), JetStream answers nothing, or ``503``, or "no responders". Callers wait
``Backoff`` (0.1 s doubling to 2 s) between attempts rather than spin, and a publish is sent
again until its deadline when that cannot store it twice: always after "no responders" or
``503`` (nothing was stored), after a timeout only with a ``Nats-Msg-Id`` (the stream's
duplicate window turns a second copy into ``duplicate=True``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from nats.errors import NoRespondersError
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds between attempts: the first wait, doubling to the last.
BACKOFF_S: Final = (0.1, 2.0)
#: An atomic batch the stream saw only part of (its leader changed meanwhile): nothing stored.
ERR_BATCH_INCOMPLETE: Final = 10176


class Backoff:
    """Waits between attempts: ``first`` doubling to ``last``, back to ``first`` on success.

    Two ways to use it: ``ready()``/``remaining()`` for a loop that must not block (is an
    attempt allowed now?), ``delay()`` for one that sleeps between attempts.
    """

    def __init__(
        self,
        first: float = BACKOFF_S[0],
        last: float = BACKOFF_S[1],
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
        self._next = now + self.delay()
        return True

    def delay(self) -> float:
        """The wait before the next attempt (each call doubles the following one)."""
        wait = self._wait
        self._wait = min(self._wait * 2, self.last)
        return wait

    def remaining(self) -> float:
        """Seconds until the next attempt is allowed."""
        return max(0.0, self._next - self.clock())

    def reset(self) -> None:
        self._wait = self.first
        self._next = 0.0


def may_resend(error: BaseException, *, deduplicated: bool) -> bool:
    """Whether a failed publish may be sent again without risking a second stored copy."""
    if isinstance(error, NoStreamResponseError | NoRespondersError | ServiceUnavailableError):
        return True
    if isinstance(error, APIError) and error.err_code == ERR_BATCH_INCOMPLETE:
        return True
    return deduplicated and isinstance(error, TimeoutError)


async def until_stored(
    attempt: Callable[[float], Awaitable[T]],
    *,
    timeout: float,
    attempt_s: float,
    deduplicated: bool,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``attempt(wait_s)`` until it succeeds, fails for good or ``timeout`` has passed.

    A deduplicated publish waits at most ``attempt_s`` for each ack, so a request lost with a
    killed leader is sent again to the next one; any other waits for all the time left, as it
    is never sent again after a timeout.
    """
    deadline = clock() + timeout
    backoff = Backoff(clock=clock)
    while True:
        left = max(deadline - clock(), 0.001)
        try:
            return await attempt(min(attempt_s, left) if deduplicated else left)
        except Exception as exc:
            pause = backoff.delay()
            if not may_resend(exc, deduplicated=deduplicated) or clock() + pause >= deadline:
                raise
            log.info("publish not acknowledged (%s): again in %.1f s", type(exc).__name__, pause)
            await asyncio.sleep(pause)
