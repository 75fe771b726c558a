"""Connecting to NATS: fail-fast first connection, endless reconnects, TLS, redacted URLs.

A URL may be a comma-separated list, one per server of a cluster
(``nats://u:p@127.0.0.1:4222,nats://u:p@127.0.0.1:4223``): ``split_servers`` turns it into
nats-py's server list with the credentials taken out and passed as ``user=``/``password=``,
because nats-py sends a URL's credentials only to that URL, not to the peers it learns from the
cluster (reconnecting to one of those fails with ``Authorization Violation``).

The certificate authority a client trusts for ``tls://`` URLs is an argument of every
connection (from the settings' ``nats_tls_ca``, carried by ``config.Endpoints``), never a
process-wide setting: two clients of one process may trust different authorities.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import ssl
import urllib.parse
from pathlib import Path
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NatsClient

from peaceland.contract import SERVICE_INBOX_PREFIX, ConfigError, ServiceError

log = logging.getLogger(__name__)

_SCHEMES = ("nats", "tls")


@dataclasses.dataclass(frozen=True, slots=True)
class ServerList:
    """The servers of one NATS URL (a list or a single one), without credentials, and the
    credentials they share (``password`` ``None`` with a ``user``: a token)."""

    urls: tuple[str, ...]
    user: str | None = None
    password: str | None = None

    @property
    def tls(self) -> bool:
        return self.urls[0].startswith("tls://")

    def options(self) -> dict[str, Any]:
        """The keyword arguments of ``nats.connect`` that say where and as whom."""
        options: dict[str, Any] = {"servers": list(self.urls)}
        if self.user is not None and self.password is None:
            options["token"] = self.user
        elif self.user is not None:
            options["user"], options["password"] = self.user, self.password
        return options


def split_servers(url: str) -> ServerList:
    """``url`` split at commas into server URLs stripped of their credentials.

    URLs without credentials share those of the others (as peers learned from the cluster
    do); a list naming two different users or passwords, or mixing ``tls://`` and
    ``nats://``, is a ``ConfigError``: one client has one identity and one transport.
    """
    urls: list[str] = []
    found: set[tuple[str, str | None]] = set()
    for item in (part.strip() for part in url.split(",")):
        if not item:
            continue
        parts = urllib.parse.urlsplit(item if "://" in item else "nats://" + item)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise ConfigError(f"not a NATS server URL: {redact(item)!r}")
        creds, _, address = parts.netloc.rpartition("@")
        if creds:
            name, sep, secret = creds.partition(":")
            found.add((urllib.parse.unquote(name), urllib.parse.unquote(secret) if sep else None))
        urls.append(f"{parts.scheme}://{address}")
    if not urls:
        raise ConfigError(f"no NATS server in {redact(url)!r}")
    if len(found) > 1:
        raise ConfigError(f"the NATS URLs {redact(url)} carry different credentials")
    if len({u.split("://", 1)[0] for u in urls}) > 1:
        raise ConfigError(f"the NATS URLs {redact(url)} mix tls:// and nats://")
    if not found:
        return ServerList(tuple(urls))
    [(user, password)] = found
    return ServerList(tuple(urls), user, password)


def client_tls(url: str, ca: Path | None = None) -> ssl.SSLContext | None:
    """The TLS context for ``url`` (a list: all ``tls://``, see ``split_servers``): verified
    against ``ca`` (``None``: the system's authorities); ``None`` for ``nats://`` URLs."""
    if not split_servers(url).tls:
        return None
    try:
        return ssl.create_default_context(cafile=str(ca) if ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise ServiceError(f"cannot use {ca} as the NATS certificate authority: {exc}") from None


def redact(url: str) -> str:
    """A NATS URL (or a list of them) without its credentials, fit for messages."""
    return re.sub(r"//[^@/,]*@", "//", url)


CLOSE_TIMEOUT_S = 2.0
#: A server that answers no ping for PING_INTERVAL_S x MAX_OUTSTANDING_PINGS is left for
#: another node of the list: a hung peer is detected in about 6 s.
PING_INTERVAL_S = 3
MAX_OUTSTANDING_PINGS = 2


async def connect_once(url: str, *, tls_ca: Path | None = None, **options: Any) -> NatsClient:
    """``nats.connect`` to the servers of ``url`` (TLS from ``tls_ca`` for ``tls://`` URLs),
    closing the client when the connection fails: nats-py would leave its socket to the
    garbage collector. A server of the list that refuses the connection is skipped."""
    client = NatsClient()
    options.setdefault("tls", client_tls(url, tls_ca))
    for key, value in split_servers(url).options().items():
        options.setdefault(key, value)
    try:
        await client.connect(**options)
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

    ``url`` may list several servers (see ``split_servers``). The first connection fails
    fast with a one-line ``ServiceError`` when no server of the list answers or the
    credentials are refused (nats-py would otherwise retry the initial connect forever).
    ``tls_ca`` is the authority trusted for ``tls://`` URLs (``None``: the system's).
    Services reply on ``SERVICE_INBOX_PREFIX``; publishers holding drone or fleet
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
            # connect: once is enough for a probe (a refused server is skipped; a refused
            # login ends the probe, which is what it should say).
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
        **split_servers(url).options(),
        name=name,
        connect_timeout=connect_timeout,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        # A hung server (SIGSTOP, a frozen VM) keeps its TCP connection open: without pings
        # answered the client only notices after nats-py's default 2 x 120 s.
        ping_interval=PING_INTERVAL_S,
        max_outstanding_pings=MAX_OUTSTANDING_PINGS,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        inbox_prefix=inbox_prefix,
        tls=client_tls(url, tls_ca),
    )
    client.append(nc)
    return nc
