"""Analytics over the Parquet archive: DuckDB views, built-in statistics, plots.

    from peaceland.analytics import connect
    con = connect()                      # settings from PEACELAND_* / peaceland.toml
    con.sql("SELECT drone_id, count(*) FROM reports GROUP BY ALL").df()

Modules: ``catalog`` (the connection and its views), ``timerange`` (``--since/--until`` and
partition pruning, pure), ``stats`` (the registry of statistics), ``output`` (table, CSV,
JSON), ``plots`` (matplotlib, optional). ``docs/analytics.md`` has the full story.
Analytics reads S3 only: it never imports the stream.
"""

from __future__ import annotations

from .catalog import Archive, archive_from, connect
from .stats import STATS, Result, Stat, get_stat, run_query, run_stat
from .timerange import TimeRange, parse_time

__all__ = [
    "STATS",
    "Archive",
    "Result",
    "Stat",
    "TimeRange",
    "archive_from",
    "connect",
    "get_stat",
    "parse_time",
    "run_query",
    "run_stat",
]
