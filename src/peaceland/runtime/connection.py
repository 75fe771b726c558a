"""The NATS connection of a component: named after it, streams ready, drained at the end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from peaceland.config import Settings, resolve_endpoints
from peaceland.stream import NatsClient, connect, create_missing_streams


async def component_client(
    settings: Settings, component: str, *, streams: bool = True
) -> NatsClient:
    """A client ``peaceland-<component>`` on the configured NATS, with the contract's streams
    created if missing (``streams=False``: the caller creates them, with its own replicas).
    The caller drains it at the end; ``component_connection`` does that for it."""
    # A NATS URL alone is enough: the alerter and webhooks need no S3.
    nats_url = settings.nats_url or resolve_endpoints(settings).nats_url
    nc = await connect(nats_url, f"peaceland-{component}", tls_ca=settings.nats_tls_ca)
    try:
        if streams:
            await create_missing_streams(nc.jetstream())
    except BaseException:
        await nc.close()
        raise
    return nc


@contextlib.asynccontextmanager
async def component_connection(
    settings: Settings, component: str, *, streams: bool = True
) -> AsyncIterator[NatsClient]:
    """``component_client``, drained on exit so what the component published or acknowledged
    reaches the server."""
    nc = await component_client(settings, component, streams=streams)
    try:
        yield nc
    finally:
        await nc.drain()
