"""``GET /api/v1/openapi.json``: the OpenAPI 3 description of the HTTP API.

The document (``openapi.json`` next to this module) describes every route of ``peaceland.web``:
parameters, bodies, answers, and on each ``/api/v1/*`` operation the bearer-token security
scheme with its 401/403 answers and, in ``x-peaceland-roles``, the roles allowed to call it.
``tests/web/test_openapi_contract.py`` checks the running gateway against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from aiohttp import web

OPENAPI_FILE: Final = Path(__file__).with_name("openapi.json")
OPENAPI_ROUTE: Final = "/api/v1/openapi.json"

DOCUMENT_KEY: Final = web.AppKey("openapi_document", bytes)


def load_openapi() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    document: dict[str, Any] = json.loads(OPENAPI_FILE.read_bytes())
    return document


async def get_openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[DOCUMENT_KEY], content_type="application/json")


def add_openapi_routes(app: web.Application) -> None:
    app[DOCUMENT_KEY] = OPENAPI_FILE.read_bytes()
    app.router.add_get(OPENAPI_ROUTE, get_openapi)
