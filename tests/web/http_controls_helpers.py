"""Shared by the tests of the HTTP controls: the full web app on a test server, on the session
stack, and one way to call it with the right credentials."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import ClientSession, web
from multidict import CIMultiDictProxy

from peaceland.web.app import WebOptions

if TYPE_CHECKING:  # for the type checker only: never import a conftest at run time
    from peaceland.testing import Stack


def auth_headers(stack: Any, role: str | None = "admin") -> dict[str, str]:
    """The ``Authorization`` header of the stack's token for ``role`` (``None``: no header)."""
    return {} if role is None else dict(stack.auth(role))


class Client:
    def __init__(self, url: str, http: ClientSession, stack: Any) -> None:
        self.url = url
        self.http = http
        self.stack = stack

    async def call(
        self, method: str, path: str, body: Any = None, *, role: str | None = "admin"
    ) -> tuple[int, Any, CIMultiDictProxy[str]]:
        """``body``: bytes as they are, anything else as JSON. Answers (status, JSON, headers)."""
        data = body if body is None or isinstance(body, bytes) else msgspec.json.encode(body)
        headers = auth_headers(self.stack, role)
        async with self.http.request(method, self.url + path, data=data, headers=headers) as r:
            answer = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, answer, r.headers


@contextlib.asynccontextmanager
async def served(
    stack: Stack, options: WebOptions, prepare: Callable[[web.Application], None] | None = None
) -> AsyncIterator[Client]:
    """The app of ``create_app`` on a test server; ``prepare(app)`` runs before it starts."""
    async with stack.serve_app(options, prepare=prepare) as running:
        yield Client(running.url, running.http, stack)
