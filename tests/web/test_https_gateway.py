"""``peaceland gateway`` with ``http_tls_cert`` / ``http_tls_key``: the real application served
by ``run_web`` over HTTPS, with a certificate from a throwaway CA (trustme)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from http_controls_helpers import auth_headers

from peaceland.servers import free_port
from peaceland.web import run_web

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextlib.asynccontextmanager
async def gateway(stack: Any, ca: trustme.CA, tmp_path: Path) -> AsyncIterator[int]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    port = free_port()
    settings = dataclasses.replace(
        stack.settings, http_host="127.0.0.1", http_port=port, http_tls_cert=chain, http_tls_key=key
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_web(settings, stop))
    try:
        for _ in range(200):
            if task.done():
                task.result()
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the gateway did not listen")
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_https_serves_and_plain_http_is_refused(
    stack: Any, ca: trustme.CA, tmp_path: Path
) -> None:
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with gateway(stack, ca, tmp_path) as port, aiohttp.ClientSession() as http:
        async with http.get(f"https://127.0.0.1:{port}/healthz", ssl=trusting) as resp:
            assert resp.status == 200
            assert (await resp.json())["status"] == "ok"
        async with http.get(
            f"https://localhost:{port}/api/v1/stats", ssl=trusting, headers=auth_headers(stack)
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["count"] > 0
        # Clear HTTP to the same port gets no HTTP answer.
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                await resp.read()
        # A client that does not trust the CA refuses the server.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with http.get(f"https://127.0.0.1:{port}/healthz") as resp:
                await resp.read()
