"""Serving an aiohttp application until asked to stop, over HTTP or HTTPS.

    serve(app, host, port, stop, ssl_context=tls_context(cert, key))

``tls_context`` builds the server side of TLS from a PEM certificate chain and its private key
(settings ``http_tls_cert`` / ``http_tls_key``): TLS 1.2 or later, Python's default ciphers.
Without them the application is served in clear HTTP, e.g. behind a TLS-terminating proxy.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from aiohttp import web

from peaceland.contract import ConfigError, ServiceError

log = logging.getLogger(__name__)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """A server TLS context from PEM files; ``None`` when neither is given.

    Raises ``ConfigError`` when only one is given or they cannot be loaded."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError(
            "HTTPS needs both a certificate and its key (PEACELAND_HTTP_TLS_CERT and "
            "PEACELAND_HTTP_TLS_KEY); set both or neither"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {cert} and key {key}: {exc}") from None
    return context


async def serve(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Serve ``app`` until ``stop`` is set, then close connections gracefully; HTTPS when
    ``ssl_context`` is given."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    scheme = "https" if ssl_context is not None else "http"
    log.info("listening on %s://%s:%d", scheme, host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
