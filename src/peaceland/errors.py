"""The exception tree of Peaceland.

    PeacelandError                  root: every expected failure; the CLI prints it in one line
    ├── ConfigError (ValueError)    a setting is missing or malformed
    ├── ServiceError (RuntimeError) an embedded or external server cannot be started or reached
    │   └── NotRunningError         no servers found for a data directory
    └── InvalidReport (ValueError)  a payload breaks the report contract; ``reason`` says how

Anything else escaping to the CLI is a bug and keeps its traceback.
"""

from __future__ import annotations


class PeacelandError(Exception):
    """Root of every expected failure."""


class ConfigError(PeacelandError, ValueError):
    """A setting is missing or malformed."""


class ServiceError(PeacelandError, RuntimeError):
    """A server cannot be started, stopped or reached."""


class NotRunningError(ServiceError):
    """No running servers were found for the data directory."""


class InvalidReport(PeacelandError, ValueError):
    """A payload does not match the report contract."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
