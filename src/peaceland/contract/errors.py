"""The exception tree of Peaceland.

    PeacelandError                  root: every expected failure; the CLI prints it in one line
    ├── ConfigError (ValueError)    a setting is missing or malformed
    ├── ServiceError (RuntimeError) an embedded or external server cannot be started or reached
    │   ├── NotRunningError         no servers found for a data directory
    │   └── StoreError              the object store failed a call (the archiver retries)
    ├── InvalidReport (ValueError)  a payload breaks the report contract; ``reason`` says how
    ├── IncidentError               an incident cannot be found or changed as asked
    │   ├── UnknownIncident (LookupError)     no incident has that id (HTTP 404)
    │   └── IllegalTransition (ValueError)    e.g. resolving twice (HTTP 409)
    └── AnalyticsError              a statistic or an SQL query cannot be run as asked
        ├── UnknownStat (LookupError)         no built-in statistic has that name (HTTP 404)
        ├── InvalidTimeRange (ValueError)     since/until do not parse or are reversed (400)
        └── QueryError (ValueError)           DuckDB refused or failed the query

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


class StoreError(ServiceError):
    """The object store (S3) failed a put, get or list; the message says which and why."""


class InvalidReport(PeacelandError, ValueError):
    """A payload does not match the report contract."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IncidentError(PeacelandError):
    """An incident cannot be found or changed as asked; the message says why."""


class UnknownIncident(IncidentError, LookupError):
    """No incident has this id (any more: resolved incidents expire with the alerts)."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id!r}")
        self.incident_id = incident_id


class IllegalTransition(IncidentError, ValueError):
    """The incident's status does not allow the change, e.g. resolving it twice."""


class AnalyticsError(PeacelandError):
    """A statistic or an SQL query over the archive cannot be run as asked."""


class UnknownStat(AnalyticsError, LookupError):
    """No built-in statistic has this name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no statistic {name!r}; known: {', '.join(known)}")
        self.name = name


class InvalidTimeRange(AnalyticsError, ValueError):
    """A ``since`` / ``until`` does not parse (``contract.times``, also for the alert queries),
    or ``until`` is not after ``since``."""


class QueryError(AnalyticsError, ValueError):
    """DuckDB refused or failed the query; the message is DuckDB's, on one line."""


class AccessError(PeacelandError):
    """Tokens and roles: an unknown token name, a name taken twice, a bad role."""


class UnknownToken(AccessError, LookupError):
    pass


def describe(exc: BaseException | None) -> str:
    """An exception on one line."""
    if exc is None:
        return "no answer"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
