"""The officers' dashboard: ``/``, its static files under ``/static/`` and ``GET /api/v1/config``.

The page (``static/index.html`` and ES modules under ``static/js/``) reads everything else from
the API: incidents and alerts, the SSE stream, ``/api/v1/drones/active`` and
``/api/v1/stats``. Its libraries (Leaflet, Chart.js, topojson-client and the world-atlas
country outlines) come from npm at install time (``make install``) into ``static/vendor/``,
never from a CDN: police networks are closed. When they are missing (say, a wheel built
without them), ``/`` answers a page saying so and how to fix it instead of a blank page.

The page is served with a strict Content-Security-Policy: scripts, styles, data and images
from this server only (plus the tile server when ``PEACELAND_MAP_TILES_URL`` is set), no
inline script. It renders every report field with DOM text nodes, never as HTML.
"""

from __future__ import annotations

import html
import urllib.parse
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from peaceland.analytics import DEFAULT_PARAMS, STATS
from peaceland.web.responses import json_response

STATIC_DIR: Final = Path(__file__).parent / "static"
#: What ``make install`` copies from ``frontend/node_modules`` (see the Makefile).
VENDOR_FILES: Final = (
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "vendor/chart.js/chart.umd.min.js",
    "vendor/topojson-client/topojson-client.min.js",
    "vendor/world-atlas/countries-50m.json",
)

TILES_KEY: Final = web.AppKey("map_tiles_url", str)
THRESHOLD_KEY: Final = web.AppKey("dashboard_alert_threshold", int)
STATIC_KEY: Final = web.AppKey("dashboard_static_dir", Path)


def missing_assets(static_dir: Path) -> list[str]:
    return [name for name in VENDOR_FILES if not (static_dir / name).is_file()]


def tiles_source(tiles_url: str) -> str:
    """The CSP source of a tile URL template: its origin, ``{s}`` subdomains as ``*``."""
    parts = urllib.parse.urlsplit(tiles_url.replace("{s}", "*"))
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}"


def content_policy(tiles_url: str) -> str:
    images = "'self' data:" + (f" {tiles_source(tiles_url)}" if tiles_url else "")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def missing_page(missing: list[str]) -> str:
    items = "".join(f"<li><code>{html.escape(name)}</code></li>" for name in missing)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Peaceland — dashboard unavailable</title></head>
<body style="font-family: sans-serif; max-width: 44em; margin: 3em auto; line-height: 1.5">
<h1>The dashboard's libraries are not installed</h1>
<p>This server runs, and its API answers under <code>/api/v1/</code>, but the dashboard's
front-end libraries are missing from <code>{html.escape(str(STATIC_DIR / "vendor"))}</code>:</p>
<ul>{items}</ul>
<p>They come from npm when the product is installed: run <code>make install</code> in the
source tree (needs Node.js and npm; nothing is fetched at run time), or install a package
built after it. Then reload this page.</p>
</body></html>
"""


async def index(request: web.Request) -> web.StreamResponse:
    static_dir = request.app[STATIC_KEY]
    missing = missing_assets(static_dir)
    if missing:
        return web.Response(status=503, text=missing_page(missing), content_type="text/html")
    return web.FileResponse(
        static_dir / "index.html",
        headers={
            "Content-Security-Policy": content_policy(request.app[TILES_KEY]),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def chart_specs() -> dict[str, dict[str, Any]]:
    """How the page draws each statistic, from the same registry as ``peaceland stats``."""
    return {
        name: {
            "kind": stat.plot.kind,
            "x": stat.plot.x,
            "y": stat.plot.y,
            "value": stat.plot.value,
            "title": stat.plot.title or name,
        }
        for name, stat in STATS.items()
    }


async def page_config(request: web.Request) -> web.Response:
    tiles = request.app[TILES_KEY]
    return json_response(
        200,
        {
            "map_tiles_url": tiles or None,
            "alert_threshold": request.app[THRESHOLD_KEY],
            "heatmap_cell_degrees": DEFAULT_PARAMS["cell"],
            "charts": chart_specs(),
        },
    )


def add_dashboard_routes(
    app: web.Application,
    map_tiles_url: str | None,
    alert_threshold: int,
    static_dir: Path = STATIC_DIR,
) -> None:
    app[TILES_KEY] = map_tiles_url or ""
    app[THRESHOLD_KEY] = alert_threshold
    app[STATIC_KEY] = static_dir
    app.router.add_get("/", index)
    app.router.add_get("/api/v1/config", page_config)
    app.router.add_static("/static/", static_dir, append_version=False)
