"""HTTP: the ingest gateway, the officers' API (alerts, SSE, incidents, SQL, statistics)
and the dashboard."""

from __future__ import annotations

from peaceland.web.app import run_web

__all__ = [
    "run_web",
]
