"""Connecting to NATS: fail-fast first connection, endless reconnects, TLS, redacted URLs.

The certificate authority a client trusts for ``tls://`` URLs is an argument of every
connection (from the settings' ``nats_tls_ca``, carried by ``config.Endpoints``), never a
process-wide setting: two clients of one process may trust different authorities.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from pathlib import Path
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NatsClient

from peaceland.contract import SERVICE_INBOX_PREFIX, ServiceError

log = logging.getLogger(__name__)


def client_tls(url: str, ca: Path | None = None) -> ssl.SSLContext | None:
    """The TLS context for ``url``: verified against ``ca`` (``None``: the system's
    authorities); ``None`` for ``nats://`` URLs."""
    if not url.lstrip().startswith("tls://"):
        return None
    try:
        return ssl.create_default_context(cafile=str(ca) if ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise ServiceError(f"cannot use {ca} as the NATS certificate authority: {exc}") from None


def redact(url: str) -> str:
    """A NATS URL without its credentials, fit for messages."""
    return re.sub(r"//[^@/,]*@", "//", url)


CLOSE_TIMEOUT_S = 2.0


def _servers(url: str) -> list[str]:
    """A comma-separated URL list as nats-py's server pool."""
    return [u.strip() for u in url.split(",")]


async def connect_once(url: str, *, tls_ca: Path | None = None, **options: Any) -> NatsClient:
    """``nats.connect`` (TLS from ``tls_ca`` for ``tls://`` URLs), closing the client when the
    connection fails: nats-py would leave its socket to the garbage collector."""
    client = NatsClient()
    options.setdefault("tls", client_tls(url, tls_ca))
    try:
        await client.connect(_servers(url), **options)
    except BaseException:
        # Bounded: closing a half-open TLS transport can wait forever on the peer.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT_S)
        raise
    return client


async def connect(
    url: str,
    name: str,
    *,
    tls_ca: Path | None = None,
    connect_timeout: float = 5.0,
    inbox_prefix: str = SERVICE_INBOX_PREFIX,
) -> NatsClient:
    """Connect with endless reconnects: a server restart must never end a component.

    The first connection fails fast with a one-line ``ServiceError`` when no server answers
    or the credentials are refused (nats-py would otherwise retry the initial connect
    forever). ``tls_ca`` is the authority trusted for ``tls://`` URLs (``None``: the
    system's). Services reply on ``SERVICE_INBOX_PREFIX``; publishers holding drone or fleet
    credentials pass their own ``inbox_prefix``.
    """

    async def quiet(exc: Exception) -> None:
        return None

    try:
        probe = await connect_once(
            url,
            tls_ca=tls_ca,
            name=name + "-probe",
            allow_reconnect=False,
            # nats-py walks the server list max_reconnect_attempts times even on a first
            # connect: once is enough for a probe.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            connect_timeout=connect_timeout,
            error_cb=quiet,
            inbox_prefix=inbox_prefix,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        reason = str(exc) or type(exc).__name__
        if "authorization" in reason.lower():
            raise ServiceError(
                f"NATS at {redact(url)} refused the credentials ({reason}); check the "
                "user and password in the URL"
            ) from None
        raise ServiceError(
            f"cannot reach NATS at {redact(url)} ({reason}); is `peaceland up` running?"
        ) from None
    await probe.close()

    async def on_error(exc: Exception) -> None:
        log.warning("nats: %s", exc)

    client: list[NatsClient] = []

    async def on_disconnect() -> None:
        if client and (client[0].is_closed or client[0].is_draining):
            return  # our own close or drain, not an outage
        log.warning("nats: disconnected")

    async def on_reconnect() -> None:
        log.info("nats: reconnected")

    nc = await nats.connect(
        _servers(url),
        name=name,
        connect_timeout=connect_timeout,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        inbox_prefix=inbox_prefix,
        tls=client_tls(url, tls_ca),
    )
    client.append(nc)
    return nc
