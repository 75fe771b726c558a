"""Noticing a stalled consumer: messages wait, none arrive, and the requests look fine.

After a leader change the pull requests a consumer holds may be gone without a word (its
leader was killed), or the consumer itself (an R1 consumer on a lost node). Heartbeats catch
the first on a continuous stream; this asks the server, at most every ``after_s``, once nothing
was delivered for ``after_s``: when the consumer is not found, or has messages pending that it
could deliver, or holds messages delivered but unacknowledged for longer than its ack wait (they
are due again, yet none came: the requests that would take them are lost), the caller
re-creates it (the one path that also handles a reconnect).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)

STALL_S: Final = 10.0
INFO_TIMEOUT_S: Final = 2.0


class StallWatch:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, after_s: float = STALL_S
    ) -> None:
        self.clock = clock
        self.after_s = after_s
        self._delivered = self._checked = clock()

    def delivered(self) -> None:
        self._delivered = self.clock()

    async def check(self, nc: NatsClient, stream: str, consumer: str) -> str | None:
        """Why the consumer must be re-created, or None (all well, or not time to ask)."""
        now = self.clock()
        if not consumer or min(now - self._delivered, now - self._checked) < self.after_s:
            return None
        self._checked = now
        try:
            info = await asyncio.wait_for(
                nc.jetstream().consumer_info(stream, consumer), INFO_TIMEOUT_S
            )
        except NotFoundError:
            return "consumer not found"
        except (NatsError, TimeoutError) as exc:  # electing a leader: ask again later
            log.debug("consumer info of %s: %s", consumer, exc)
            return None
        limit = info.config.max_ack_pending or 0
        room = limit <= 0 or (info.num_ack_pending or 0) < limit
        idle = now - self._delivered
        if (info.num_pending or 0) > 0 and room:
            return f"{info.num_pending} messages pending, none delivered for {idle:.0f} s"
        ack_wait = info.config.ack_wait or 30.0
        if (info.num_ack_pending or 0) > 0 and idle > ack_wait + self.after_s:
            return (
                f"{info.num_ack_pending} messages unacknowledged, none redelivered for "
                f"{idle:.0f} s (ack wait {ack_wait:g} s)"
            )
        return None
