"""Alerting: the rules (pure) and the alerter component, REPORTS -> rules -> ALERTS."""

from __future__ import annotations

from peaceland.alerting.alerter import AlerterOptions, run_alerter

__all__ = [
    "AlerterOptions",
    "run_alerter",
]
