"""Readiness and health of NATS: reach it the way clients do, and prepare it.

NATS is ready when a client connects and JetStream answers an account-info request.
``prepare_nats`` retries until a deadline, then creates the contract's streams and the
product's buckets, and waits until each of them answers (on a fresh cluster a stream's leader
takes a moment to be elected); ``probe_nats`` tries once, for ``peaceland status``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.errors
from nats.aio.client import Client as NatsClient

from peaceland.contract import ServiceError, describe
from peaceland.stream.admin import STREAMS, ensure_streams, stream_message_counts
from peaceland.stream.connection import connect_once, redact, split_servers
from peaceland.stream.kv import BUCKETS, create_missing_buckets

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Says why a server we started is gone (with its log), or None while it lives.
DeathCheck = Callable[[], str | None]


class NoLeader(nats.errors.Error):
    """A replicated stream answers but has no leader yet."""


# OSError covers refused connections and TimeoutError (asyncio.TimeoutError since 3.11).
_NATS_ERRORS = (nats.errors.Error, OSError)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


@dataclasses.dataclass(frozen=True, slots=True)
class NatsProbe:
    error: str | None
    streams: dict[str, int | None] | None = None


async def _connect(url: str, wait_s: float, tls_ca: Path | None) -> NatsClient:
    async def quiet(exc: Exception) -> None:
        log.debug("nats probe: %s", exc)

    return await asyncio.wait_for(
        connect_once(
            url,
            tls_ca=tls_ca,
            name="peaceland-probe",
            connect_timeout=wait_s,
            allow_reconnect=False,
            # nats-py retries the initial connect until a server is tried more than this.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=quiet,
        ),
        # Each server of a list may take its connect timeout before the next is tried.
        wait_s * len(split_servers(url).urls) + 1.0,
    )


def prepare_nats(
    url: str,
    *,
    deadline: float,
    died: DeathCheck | None,
    context: Callable[[], str],
    tls_ca: Path | None = None,
    replicas: int = 1,
) -> None:
    """Wait until JetStream answers at ``url``, create or update the streams with
    ``replicas``, create the missing buckets with ``replicas`` (existing ones are left as
    they are), then wait until every one of them answers with a leader."""

    async def attempt(wait_s: float) -> None:
        nc = await _connect(url, wait_s, tls_ca)
        try:
            js = nc.jetstream(timeout=max(wait_s, 5.0))
            await js.account_info()
            await ensure_streams(js, replicas)
            await create_missing_buckets(js, replicas)
            for name in [s.name for s in STREAMS] + [b.stream for b in BUCKETS]:
                info = await js.stream_info(name)
                if info.cluster is not None and not info.cluster.leader:
                    raise NoLeader(f"stream {name} has no leader yet")
        finally:
            await nc.close()

    async def loop() -> None:
        last: BaseException | None = None
        while True:
            if died is not None and (reason := died()):
                raise ServiceError(reason)
            try:
                await attempt(max(0.5, min(2.0, deadline - time.monotonic())))
                return
            except _NATS_ERRORS as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise ServiceError(
                    f"NATS at {redact(url)} not ready in time: {describe(last)}{context()}"
                )
            await asyncio.sleep(0.2)

    run_async(loop)


def wait_nats_login(url: str, *, deadline: float, tls_ca: Path | None = None) -> None:
    """Wait until ``url``'s credentials are accepted (a reloaded configuration applies
    asynchronously after SIGHUP)."""

    async def loop() -> None:
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                nc = await _connect(url, 1.0, tls_ca)
            except (*_NATS_ERRORS, TimeoutError) as exc:
                last = exc
                await asyncio.sleep(0.05)
                continue
            await nc.close()
            return
        raise ServiceError(f"NATS at {redact(url)} did not accept the new user: {describe(last)}")

    run_async(loop)


def probe_nats(url: str, timeout: float, *, tls_ca: Path | None = None) -> NatsProbe:
    """One try: connect, ask JetStream, count the messages of each stream."""

    async def go() -> NatsProbe:
        try:
            nc = await _connect(url, timeout, tls_ca)
        except _NATS_ERRORS as exc:
            return NatsProbe(describe(exc))
        try:
            js = nc.jetstream(timeout=timeout)
            await js.account_info()
            return NatsProbe(None, await stream_message_counts(js))
        except _NATS_ERRORS as exc:
            return NatsProbe(describe(exc))
        finally:
            await nc.close()

    return run_async(go)
