"""Serving an aiohttp application until asked to stop."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from peaceland.errors import ServiceError

log = logging.getLogger(__name__)


async def serve(app: web.Application, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` until ``stop`` is set, then close connections gracefully."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ServiceError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    log.info("listening on http://%s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
