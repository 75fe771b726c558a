"""JSON answers shared by the API handlers."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

_encode = msgspec.json.Encoder().encode


def json_response(status: int, body: Any) -> web.Response:
    """``body``: anything msgspec encodes (dicts, lists, Structs, datetimes)."""
    return web.Response(status=status, body=_encode(body), content_type="application/json")


def json_error(status: int, message: str) -> web.Response:
    return json_response(status, {"error": message})
