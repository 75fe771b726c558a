"""Peaceland: drone reports in, alerts out, every report archived and queryable."""

__version__ = "0.1.0"
