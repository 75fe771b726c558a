"""Ingest, pure at its core: request bodies classified into reports and dead letters, and
the simulated fleet with its paced publisher.
"""

from __future__ import annotations

from peaceland.ingest.classify import IngestPlan, plan_body
from peaceland.ingest.fleet import FRANCE, Area
from peaceland.ingest.simulator import SimulationOptions, run_in_terminal

__all__ = [
    "FRANCE",
    "Area",
    "IngestPlan",
    "SimulationOptions",
    "plan_body",
    "run_in_terminal",
]
