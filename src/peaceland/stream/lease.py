"""A lease: one holder at a time for a job that must not run twice at once, across machines.

The lease is a key of the ``LEASES`` bucket, whose values expire ``LEASE_TTL_S`` after their
last write (the server's clock alone decides: hosts' clocks do not matter). Taking it is a
``create`` (refused while another holder's value lives); keeping it is an ``update`` at the
revision last written (refused once another holder took it after an expiry); giving it back
deletes it at that revision, so a successor need not wait for the expiry.

``Lease.hold(work)`` runs ``work`` while renewing every third of the TTL, and cancels it as
soon as a renewal is refused or cannot be made before the lease would expire: a holder cut
off from NATS stops before another may start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable
from typing import Final, TypeVar

from nats.errors import Error as NatsError
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from peaceland.stream.kv import LEASE_TTL_S

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long one attempt to write the lease may take.
WRITE_TIMEOUT_S: Final = 3.0


class LeaseLost(Exception):
    """The lease was taken by another holder, or could not be renewed in time."""


def holder_name(component: str) -> str:
    """Who holds a lease: the component, the host and process, and a random part."""
    return f"{component}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, kv: KeyValue, key: str, holder: str, ttl_s: float = LEASE_TTL_S) -> None:
        self.kv = kv
        self.key = key
        self.holder = holder
        self.ttl_s = ttl_s
        self.revision: int | None = None

    @property
    def held(self) -> bool:
        return self.revision is not None

    async def acquire(self) -> bool:
        """Take (or keep) the lease; False while another holder has it or NATS cannot say."""
        value = self.holder.encode()
        try:
            if self.revision is not None:
                try:
                    self.revision = await asyncio.wait_for(
                        self.kv.update(self.key, value, last=self.revision), WRITE_TIMEOUT_S
                    )
                    return True
                except KeyWrongLastSequenceError:
                    log.warning("lease %s: taken by another holder", self.key)
                    self.revision = None
            self.revision = await asyncio.wait_for(self.kv.create(self.key, value), WRITE_TIMEOUT_S)
            log.info("lease %s: taken by %s", self.key, self.holder)
            return True
        except KeyWrongLastSequenceError:
            return False  # another holder's value lives
        except (NatsError, TimeoutError) as exc:
            log.warning("lease %s: cannot be written: %r", self.key, exc)
            return False

    async def release(self) -> None:
        """Give the lease back (a successor takes it at once); harmless when not held."""
        revision, self.revision = self.revision, None
        if revision is None:
            return
        with contextlib.suppress(NatsError, TimeoutError):
            await asyncio.wait_for(self.kv.delete(self.key, last=revision), WRITE_TIMEOUT_S)

    async def hold(self, work: Awaitable[T]) -> T:
        """Run ``work`` while keeping the lease (taken already); ``LeaseLost`` when it went."""
        task = asyncio.ensure_future(work)
        every = self.ttl_s / 3
        renewed = time.monotonic()
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=every)
                if done:
                    return task.result()
                if await self.acquire():
                    renewed = time.monotonic()
                elif not self.held or time.monotonic() - renewed > self.ttl_s - every:
                    raise LeaseLost(f"lease {self.key} lost by {self.holder}")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
