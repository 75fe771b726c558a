"""Built-in statistics over HTTP, from the same registry as ``peaceland stats``.

* ``GET /api/v1/stats`` — the statistics: name, description, plot kind.
* ``GET /api/v1/stats/<name>?since=&until=`` — one statistic over event times
  ``since <= ts < until`` (RFC 3339, a UTC date, or an age such as ``2h`` or ``7d``)::

      {"stat": "agitation_by_hour", "description": "...", "since": "...", "until": null,
       "columns": ["hour", "sightings", ...], "rows": [{"hour": 0, ...}, ...], "count": 24}

Errors are ``{"error": "..."}``: 400 for a bad time or parameter, 404 for an unknown statistic,
503 when the archive cannot be read. Queries run in worker threads (DuckDB releases the GIL),
at most ``MAX_CONCURRENT`` at a time so statistics never starve ingest, on locked-down
connections (``catalog.lock_down``) each limited to 1 GB of memory, then up to 10 GB spilled
to a private directory (``catalog.Confinement``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Final

from aiohttp import web

from peaceland.analytics import STATS, Archive, TimeRange, run_stat, to_json
from peaceland.contract import AnalyticsError, InvalidTimeRange, ServiceError, UnknownStat
from peaceland.web.responses import json_error, json_response

MAX_CONCURRENT: Final = 2
_PARAMS: Final = ("since", "until")

ARCHIVE_KEY: Final = web.AppKey("stats_archive", Archive)
THRESHOLD_KEY: Final = web.AppKey("stats_threshold", int)
LIMIT_KEY: Final = web.AppKey("stats_limit", asyncio.Semaphore)


async def list_stats(request: web.Request) -> web.Response:
    stats = [
        {"name": s.name, "description": s.description, "plot": s.plot.kind} for s in STATS.values()
    ]
    return json_response(200, {"stats": stats, "count": len(stats)})


async def get_stat(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    stat = STATS.get(name)
    if stat is None:
        return json_error(404, str(UnknownStat(name, list(STATS))))
    unknown = sorted(set(request.query) - set(_PARAMS))
    if unknown:
        return json_error(400, f"unknown parameter {unknown[0]!r}; known: since, until")
    try:
        time_range = TimeRange.parse(
            request.query.get("since"), request.query.get("until"), datetime.now(UTC)
        )
    except InvalidTimeRange as exc:
        return json_error(400, str(exc))
    archive = request.app.get(ARCHIVE_KEY)
    if archive is None:
        return json_error(503, "this server has no archive configured")
    params = {"threshold": request.app[THRESHOLD_KEY]}
    try:
        async with request.app[LIMIT_KEY]:
            result = await asyncio.to_thread(
                run_stat, archive, name, time_range, params, locked=True
            )
    except ServiceError as exc:
        return json_error(503, str(exc))
    except AnalyticsError as exc:
        return json_error(500, str(exc))
    body = {
        "stat": stat.name,
        "description": stat.description,
        "since": time_range.since,
        "until": time_range.until,
        "columns": result.columns,
        "rows": result.rows(),
        "count": len(result),
    }
    return web.Response(status=200, body=to_json(body), content_type="application/json")


def add_stats_routes(
    app: web.Application, archive: Archive | None, alert_threshold: int = 20
) -> None:
    """``archive=None``: the routes answer 503 (e.g. an app serving ingest only)."""
    if archive is not None:
        app[ARCHIVE_KEY] = archive
    app[THRESHOLD_KEY] = alert_threshold
    app[LIMIT_KEY] = asyncio.Semaphore(MAX_CONCURRENT)
    app.router.add_get("/api/v1/stats", list_stats)
    app.router.add_get("/api/v1/stats/{name}", get_stat)
